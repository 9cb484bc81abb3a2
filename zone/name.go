package zone

import (
	"errors"
	"strconv"

	"github.com/tapdns/tapdns/dnswire"
)

// appendName appends the wire form of the presentation name w (escapes
// \X and \DDD resolved, case kept) to dst: dnswire.AppendName, and "@"
// for origin. A name not ending in an unescaped dot is relative to origin.
// It returns an error wrapping errNoOrigin for a relative name when origin
// is nil.
func appendName(dst, w, origin []byte) ([]byte, error) {
	if len(w) == 1 && w[0] == '@' {
		if origin == nil {
			return dst, errNoOrigin
		}
		return append(dst, origin...), nil
	}
	return dnswire.AppendName(dst, w, origin)
}

// unescapeText appends w with its escapes resolved to dst. A malformed
// \DDD is kept as it is (character-strings report it through
// appendString).
func unescapeText(dst, w []byte) []byte {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '\\' {
			if v, n, err := dnswire.Unescape(w[i:]); err == nil {
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
			v, n, err := dnswire.Unescape(w[i:])
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
	return dnswire.ParseName(s)
}

// canonicalName converts a presentation-format name to the canonical wire
// form used as keys in this package: absolute, uncompressed, ASCII
// lower-cased.
func canonicalName(s string) ([]byte, bool) {
	w, err := CanonicalName(s)
	return w, err == nil
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
