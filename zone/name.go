package zone

import (
	"errors"
	"fmt"
	"strconv"
)

// appendName appends the wire form of the presentation name w (escapes
// \X and \DDD resolved, case kept) to dst. A name not ending in an
// unescaped dot is relative to origin; "@" is origin. It returns an error
// wrapping errNoOrigin for a relative name when origin is nil.
func appendName(dst, w, origin []byte) ([]byte, error) {
	start := len(dst)
	if len(w) == 1 && w[0] == '@' {
		if origin == nil {
			return dst, errNoOrigin
		}
		return append(dst, origin...), nil
	}
	if len(w) == 1 && w[0] == '.' {
		return append(dst, 0), nil
	}
	if len(w) == 0 {
		return dst, errors.New("empty name")
	}
	label := len(dst) // offset of the current label's length octet
	dst = append(dst, 0)
	absolute := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch c {
		case '.':
			n := len(dst) - label - 1
			if n == 0 {
				return dst, errors.New("empty label (two dots in a row, or a leading dot)")
			}
			if n > 63 {
				return dst, fmt.Errorf("label %s is %d octets long; a label has at most 63", labelText(dst[label+1:]), n)
			}
			dst[label] = byte(n)
			if i == len(w)-1 {
				absolute = true
				continue
			}
			label = len(dst)
			dst = append(dst, 0)
			continue
		case '\\':
			v, n, err := unescape(w[i:])
			if err != nil {
				return dst, err
			}
			c = v
			i += n - 1
		}
		dst = append(dst, c)
		if len(dst)-start > 255 {
			return dst, errors.New("name longer than 255 octets")
		}
	}
	if !absolute {
		n := len(dst) - label - 1
		if n > 63 {
			return dst, fmt.Errorf("label %s is %d octets long; a label has at most 63", labelText(dst[label+1:]), n)
		}
		dst[label] = byte(n)
		if origin == nil {
			return dst, errNoOrigin
		}
		dst = append(dst, origin...)
	} else {
		dst = append(dst, 0)
	}
	if len(dst)-start > 255 {
		return dst, fmt.Errorf("name is %d octets long; a name has at most 255", len(dst)-start)
	}
	return dst, nil
}

// labelText shortens a long label for a message.
func labelText(l []byte) string {
	if len(l) > 20 {
		return strconv.Quote(string(l[:16]) + "...")
	}
	return strconv.Quote(string(l))
}

// unescape decodes the escape at the start of w ("\X" or "\DDD") and
// returns the byte and the length of the escape.
func unescape(w []byte) (byte, int, error) {
	if len(w) < 2 {
		return 0, 0, errors.New("backslash at the end of a word")
	}
	if w[1] < '0' || w[1] > '9' {
		return w[1], 2, nil
	}
	if len(w) < 4 || w[2] < '0' || w[2] > '9' || w[3] < '0' || w[3] > '9' {
		return 0, 0, fmt.Errorf("bad escape %q: \\ and a digit must be \\DDD, three decimal digits", w[:min(len(w), 4)])
	}
	v := int(w[1]-'0')*100 + int(w[2]-'0')*10 + int(w[3]-'0')
	if v > 255 {
		return 0, 0, fmt.Errorf("bad escape %q: above \\255", w[:4])
	}
	return byte(v), 4, nil
}

// unescapeText appends w with its escapes resolved to dst. A malformed
// \DDD is kept as it is (character-strings report it through
// appendString).
func unescapeText(dst, w []byte) []byte {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '\\' {
			if v, n, err := unescape(w[i:]); err == nil {
				c = v
				i += n - 1
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// appendText appends w with its escapes resolved, or returns an error
// for a malformed escape.
func appendText(dst, w []byte) ([]byte, error) {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '\\' {
			v, n, err := unescape(w[i:])
			if err != nil {
				return dst, err
			}
			c = v
			i += n - 1
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// CanonicalName converts a presentation-format domain name (absolute or
// not: it is taken as absolute) to the canonical wire form this package
// uses (uncompressed, lower case), as Builder and zone origins want it.
func CanonicalName(s string) ([]byte, error) {
	if s == "" || s == "@" {
		return nil, errors.New("empty name")
	}
	w, err := appendName(nil, []byte(s), []byte{0})
	if err != nil {
		return nil, err
	}
	lower(w)
	return w, nil
}

// canonicalName converts a presentation-format name to the canonical wire
// form used as keys in this package: absolute, uncompressed, ASCII
// lower-cased.
func canonicalName(s string) ([]byte, bool) {
	w, err := CanonicalName(s)
	return w, err == nil
}

// lower ASCII-lower-cases a wire name in place. Length octets are at most
// 63 and so never in 'A'..'Z'.
func lower(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}

// NameText renders a canonical wire-format name (such as Zone.Origin or
// Node.Name) in presentation format, with RFC 1035 escapes, for messages,
// logs and metrics.
func NameText(wire string) string {
	if wire == "" {
		return "."
	}
	return nameText(wire)
}

// nameText renders a wire name; a malformed one is shown quoted.
func nameText(wire string) string {
	if !validName([]byte(wire)) {
		return strconv.Quote(wire)
	}
	if wire == "\x00" {
		return "."
	}
	var b []byte
	for i := 0; wire[i] != 0; i += 1 + int(wire[i]) {
		for _, c := range []byte(wire[i+1 : i+1+int(wire[i])]) {
			switch {
			case c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$' || c == ' ':
				b = append(b, '\\', c)
			case c < '!' || c > '~':
				b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			default:
				b = append(b, c)
			}
		}
		b = append(b, '.')
	}
	return string(b)
}
