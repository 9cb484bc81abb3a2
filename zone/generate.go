package zone

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// $GENERATE, as BIND 9 defines it:
//
//	$GENERATE start-stop[/step] lhs [ttl] [class] type rhs
//
// Every $ in the words after the range becomes the counter; ${offset},
// ${offset,width} and ${offset,width,base} (base d, o, x, X, or n and N
// for nibbles in reverse order) format it; \$ and $$ are a literal $.
// Records get $TTL (or the previous TTL) like any other, and messages
// name the line of the directive.

// maxGenerate bounds the records of one $GENERATE, as in miekg/dns.
const maxGenerate = 65536

// generate expands a $GENERATE directive.
func (s *scanner) generate(args []token) error {
	dir := s.toks[0]
	if len(args) < 3 {
		return s.errTok(dir, "$GENERATE needs a range, an owner, a type and rdata")
	}
	start, stop, step, err := parseRange(s.tok(args[0]))
	if err != nil {
		return s.errTok(args[0], "bad $GENERATE range %s: %v", tokText(s.tok(args[0])), err)
	}
	// The template: the words after the range, quotes restored.
	var tmpl []byte
	for i, t := range args[1:] {
		if i > 0 {
			tmpl = append(tmpl, ' ')
		}
		if t.quoted {
			tmpl = append(tmpl, '"')
			tmpl = append(tmpl, s.tok(t)...)
			tmpl = append(tmpl, '"')
		} else {
			tmpl = append(tmpl, s.tok(t)...)
		}
	}
	line := dir.line
	outer := s.in
	defer func() { s.in = outer }()
	var text []byte
	for v := start; v <= stop; v += step {
		text, err = expand(text[:0], tmpl, v)
		if err != nil {
			return s.errTok(args[1], "bad $GENERATE template: %v", err)
		}
		text = append(text, '\n')
		s.in = &input{r: bytes.NewReader(text), buf: make([]byte, 0, len(text)), file: outer.file, line: line}
		ok, err := s.lex()
		if err == nil && !ok {
			err = s.errTok(dir, "$GENERATE made an empty record")
		}
		if err == nil {
			err = s.record(s.toks, false, &line)
		}
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				se.line = line
				se.msg += fmt.Sprintf(" (in the record $GENERATE made for %d)", v)
			}
			return err
		}
		if stop-v < step {
			break
		}
	}
	return nil
}

// parseRange parses start-stop[/step].
func parseRange(w []byte) (start, stop, step int64, err error) {
	step = 1
	if i := bytes.IndexByte(w, '/'); i >= 0 {
		v, ok := atou(w[i+1:], 1<<31-1)
		if !ok || v == 0 {
			return 0, 0, 0, errors.New("the step must be a positive number")
		}
		step, w = int64(v), w[:i]
	}
	a, b, ok := bytes.Cut(w, []byte("-"))
	if !ok {
		return 0, 0, 0, errors.New("expected start-stop")
	}
	x, ok1 := atou(a, 1<<31-1)
	y, ok2 := atou(b, 1<<31-1)
	if !ok1 || !ok2 || y < x {
		return 0, 0, 0, errors.New("expected start-stop with 0 <= start <= stop")
	}
	if (int64(y)-int64(x))/step >= maxGenerate {
		return 0, 0, 0, fmt.Errorf("more than %d records", maxGenerate)
	}
	return int64(x), int64(y), step, nil
}

// expand substitutes the counter v into the template.
func expand(dst, tmpl []byte, v int64) ([]byte, error) {
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch {
		case c == '\\' && i+1 < len(tmpl) && tmpl[i+1] == '$':
			dst = append(dst, '$')
			i++
		case c == '\\' && i+1 < len(tmpl):
			dst = append(dst, c, tmpl[i+1])
			i++
		case c == '$' && i+1 < len(tmpl) && tmpl[i+1] == '$':
			dst = append(dst, '$')
			i++
		case c == '$' && i+1 < len(tmpl) && tmpl[i+1] == '{':
			end := bytes.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return dst, errors.New("${ without }")
			}
			var err error
			if dst, err = modifier(dst, tmpl[i+2:i+end], v); err != nil {
				return dst, err
			}
			i += end
		case c == '$':
			dst = strconv.AppendInt(dst, v, 10)
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// modifier formats v by ${offset[,width[,base]]}.
func modifier(dst, mod []byte, v int64) ([]byte, error) {
	parts := bytes.Split(mod, []byte(","))
	if len(parts) > 3 {
		return dst, fmt.Errorf("bad modifier ${%s}", mod)
	}
	off, err := strconv.ParseInt(string(parts[0]), 10, 32)
	if err != nil {
		return dst, fmt.Errorf("bad offset in ${%s}", mod)
	}
	width := uint64(0)
	if len(parts) > 1 {
		w, ok := atou(parts[1], 255)
		if !ok {
			return dst, fmt.Errorf("bad width in ${%s}", mod)
		}
		width = w
	}
	base := byte('d')
	if len(parts) > 2 {
		if len(parts[2]) != 1 {
			return dst, fmt.Errorf("bad base in ${%s}", mod)
		}
		base = parts[2][0]
	}
	v += off
	if v < 0 {
		return dst, fmt.Errorf("${%s} makes the negative number %d", mod, v)
	}
	var digits []byte
	switch base {
	case 'd':
		digits = strconv.AppendInt(nil, v, 10)
	case 'o':
		digits = strconv.AppendInt(nil, v, 8)
	case 'x', 'n':
		digits = strconv.AppendInt(nil, v, 16)
	case 'X', 'N':
		digits = bytes.ToUpper(strconv.AppendInt(nil, v, 16))
	default:
		return dst, fmt.Errorf("bad base %q in ${%s} (d, o, x, X, n or N)", base, mod)
	}
	for uint64(len(digits)) < width {
		digits = append([]byte{'0'}, digits...)
	}
	if base == 'n' || base == 'N' {
		// Nibbles, least significant first, joined by dots (reverse
		// zones); width counts nibbles.
		for i := len(digits) - 1; i >= 0; i-- {
			dst = append(dst, digits[i])
			if i > 0 {
				dst = append(dst, '.')
			}
		}
		return dst, nil
	}
	return append(dst, digits...), nil
}
