package dnswire

import (
	"errors"
	"fmt"
	"strconv"
)

// IsSubdomain reports whether the uncompressed wire-format name is parent
// or below it: parent is a suffix of name that starts at one of name's
// label boundaries. The comparison is octet for octet, so both names
// should be canonical (lower case). For malformed names the answer means
// nothing, but IsSubdomain never reads out of bounds. It does not
// allocate.
func IsSubdomain(name, parent []byte) bool {
	if len(name) < len(parent) {
		return false
	}
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if len(name)-i == len(parent) {
			return string(name[i:]) == string(parent)
		}
		if name[i] == 0 {
			break
		}
	}
	return false
}

// SkipName returns the offset after the possibly compressed name at off
// in msg, or -1 if there is no valid one there. A pointer ends the name
// and is not followed; the labels before it must respect the label and
// name limits.
func SkipName(msg []byte, off int) int {
	n := 0
	for {
		if off >= len(msg) {
			return -1
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case l > MaxLabelLen:
			return -1 // 0x40 and 0x80: obsolete/unknown label types
		}
		n += 1 + l
		if n >= MaxNameLen {
			return -1
		}
		off += 1 + l
	}
}

// ReadName decompresses the possibly compressed name at off in msg and
// appends its uncompressed wire form to dst, lower-cased when canonical is
// set. It returns the extended dst and the offset in msg after the name
// as it stands at off (after its first pointer, if any).
//
// It returns nil and -1 for a bad name: a label type other than 0 and
// 0xC0, a pointer that does not point strictly backwards (before the
// octet that holds it, so decompression always ends), more than 128
// pointers, more than MaxNameLen octets, or a name running past the end
// of msg. The name's octets are counted apart from what dst
// already holds. ReadName allocates only when dst has no room for the
// name; with cap(dst)-len(dst) >= MaxNameLen it never does.
func ReadName(msg []byte, off int, dst []byte, canonical bool) ([]byte, int) {
	next, n, hops := -1, 0, 0
	for {
		if off >= len(msg) {
			return nil, -1
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if next < 0 {
				next = off + 1
			}
			return append(dst, 0), next
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) || hops >= maxPtrHops {
				return nil, -1
			}
			ptr := int(u16(msg[off:]) & 0x3FFF)
			if ptr >= off {
				return nil, -1 // forward or self pointers could loop
			}
			if next < 0 {
				next = off + 2
			}
			hops++
			off = ptr
			continue
		case l > MaxLabelLen:
			return nil, -1 // 0x40 and 0x80: obsolete/unknown label types
		}
		if off+1+l > len(msg) || n+1+l+1 > MaxNameLen {
			return nil, -1
		}
		n += 1 + l
		dst = append(dst, msg[off:off+1+l]...)
		if canonical {
			LowerASCII(dst[len(dst)-l:])
		}
		off += 1 + l
	}
}

// ErrNoOrigin is wrapped by AppendName's error for a relative name when no
// origin is given.
var ErrNoOrigin = errors.New("no origin is known")

// AppendName appends the wire form of the presentation-format name s to
// dst, with the escapes \X and \DDD resolved and the case kept. A name that
// does not end in an unescaped dot is relative: origin (an uncompressed
// wire name) is appended to it, and with origin nil the error wraps
// ErrNoOrigin. "." is the root. The "@" shorthand of zone files is the
// caller's: here it is a label like any other.
//
// On error dst may hold part of the name. The messages name the offending
// part ("label \"xxx...\" is 64 octets long; a label has at most 63") and
// are meant to follow a caller's context.
func AppendName(dst, s, origin []byte) ([]byte, error) {
	start := len(dst)
	if len(s) == 1 && s[0] == '.' {
		return append(dst, 0), nil
	}
	if len(s) == 0 {
		return dst, errors.New("empty name")
	}
	label := len(dst) // offset of the current label's length octet
	dst = append(dst, 0)
	absolute := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '.':
			n := len(dst) - label - 1
			if n == 0 {
				return dst, errors.New("empty label (two dots in a row, or a leading dot)")
			}
			if n > MaxLabelLen {
				return dst, fmt.Errorf("label %s is %d octets long; a label has at most 63", labelText(dst[label+1:]), n)
			}
			dst[label] = byte(n)
			if i == len(s)-1 {
				absolute = true
				continue
			}
			label = len(dst)
			dst = append(dst, 0)
			continue
		case '\\':
			v, n, err := Unescape(s[i:])
			if err != nil {
				return dst, err
			}
			c = v
			i += n - 1
		}
		dst = append(dst, c)
		if len(dst)-start > MaxNameLen {
			return dst, errors.New("name longer than 255 octets")
		}
	}
	if !absolute {
		n := len(dst) - label - 1
		if n > MaxLabelLen {
			return dst, fmt.Errorf("label %s is %d octets long; a label has at most 63", labelText(dst[label+1:]), n)
		}
		dst[label] = byte(n)
		if origin == nil {
			return dst, ErrNoOrigin
		}
		dst = append(dst, origin...)
	} else {
		dst = append(dst, 0)
	}
	if len(dst)-start > MaxNameLen {
		return dst, fmt.Errorf("name is %d octets long; a name has at most 255", len(dst)-start)
	}
	return dst, nil
}

// ParseName returns the canonical wire form (uncompressed, ASCII lower
// case) of the presentation-format name s, escapes allowed, taken as
// absolute whether or not it ends in a dot. "." is the root; "" is an
// error. The result is newly allocated.
func ParseName(s string) ([]byte, error) {
	w, err := AppendName(make([]byte, 0, len(s)+2), []byte(s), []byte{0})
	if err != nil {
		return nil, err
	}
	LowerASCII(w)
	return w, nil
}

// LowerASCII lower-cases the ASCII letters of b in place and leaves every
// other octet as it is. On a wire-format name it gives the canonical form:
// length octets are at most 63, never a letter.
func LowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A') // a store only where needed
		}
	}
}

// Unescape decodes the presentation-format escape at the start of s ("\X"
// or "\DDD", RFC 1035 section 5.1) and returns the octet and the length
// of the escape.
func Unescape(s []byte) (byte, int, error) {
	if len(s) < 2 {
		return 0, 0, errors.New("backslash at the end of a word")
	}
	if s[1] < '0' || s[1] > '9' {
		return s[1], 2, nil
	}
	if len(s) < 4 || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return 0, 0, fmt.Errorf("bad escape %q: \\ and a digit must be \\DDD, three decimal digits", s[:min(len(s), 4)])
	}
	v := int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	if v > 255 {
		return 0, 0, fmt.Errorf("bad escape %q: above \\255", s[:4])
	}
	return byte(v), 4, nil
}

// labelText shortens a long label for a message.
func labelText(l []byte) string {
	if len(l) > 20 {
		return strconv.Quote(string(l[:16]) + "...")
	}
	return strconv.Quote(string(l))
}
