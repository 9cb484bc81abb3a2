package zone

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The scanner reads RFC 1035 master files (section 5, with RFC 2308's
// $TTL, RFC 3597's generic rdata and BIND's $GENERATE) and hands each
// record to the builder in wire form. It streams: the text is read in
// 64 KiB blocks and each entry's tokens are copied into a buffer reused
// for the next, so a load allocates nothing per record.

// token is one word of an entry: its bytes are entry.text[start:end],
// escapes not yet resolved (names and strings treat them differently).
type token struct {
	start, end uint32
	line       uint32
	quoted     bool
}

// input is one file being read.
type input struct {
	r      io.Reader
	closer io.Closer // nil for the caller's reader
	buf    []byte
	pos    int
	err    error // sticky read error; io.EOF at the end
	file   uint16
	line   uint32
	dir    string // for relative $INCLUDE paths
}

// fill reads more input after buf[pos:] has been consumed. It returns
// false at the end of the input or on an error (in.err).
func (in *input) fill() bool {
	if in.err != nil {
		return false
	}
	for range 100 {
		n, err := in.r.Read(in.buf[:cap(in.buf)])
		in.buf, in.pos = in.buf[:n], 0
		if err != nil {
			in.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	in.err = io.ErrNoProgress
	return false
}

// ensure makes at least n bytes available at buf[pos:], keeping those
// there, unless the input ends first; it reports whether they are.
func (in *input) ensure(n int) bool {
	for tries := 0; len(in.buf)-in.pos < n; tries++ {
		if in.err != nil {
			return false
		}
		if tries == 100 {
			in.err = io.ErrNoProgress
			return false
		}
		rest := copy(in.buf[:cap(in.buf)], in.buf[in.pos:])
		m, err := in.r.Read(in.buf[rest:cap(in.buf)])
		in.buf, in.pos = in.buf[:rest+m], 0
		if err != nil {
			in.err = err
		}
	}
	return true
}

// scanner state that lives across entries.
type scanner struct {
	b        *builder
	in       *input
	stack    []*input // including files, innermost last
	saved    []savedState
	includes bool     // $INCLUDE allowed
	bufs     [][]byte // read buffers of closed includes, for reuse
	cwd      string
	relative bool // the top file was named by a relative path: name includes so too

	origin  []byte // current $ORIGIN, wire, case kept; nil until known
	owner   []byte // previous owner, canonical; nil before the first record
	ownerOK bool

	defTTL   uint32 // TTL of records without one
	ttlByDir bool   // defTTL comes from $TTL (an explicit TTL does not change it)
	ttlKnown bool

	// The current entry.
	toks  []token
	text  []byte
	blank bool   // the entry's line starts with a blank: no owner
	line  uint32 // line of the entry's first token

	rd      []byte // rdata being built
	scratch []byte
	name    [256]byte
}

// errNoOrigin is wrapped by errors about relative names met when no
// origin is known.
var errNoOrigin = errors.New("no origin is known")

// ErrNoOrigin is wrapped by load errors caused by a relative name (or @)
// in a file that neither sets $ORIGIN before it nor was given an origin.
var ErrNoOrigin = errNoOrigin

// syntaxError is an error at a token: the scanner adds the position.
type syntaxError struct {
	line uint32
	msg  string
	err  error // wrapped, optional
}

func (e *syntaxError) Error() string { return e.msg }
func (e *syntaxError) Unwrap() error { return e.err }

func (s *scanner) errTok(t token, format string, args ...any) error {
	return &syntaxError{line: t.line, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) errLine(line uint32, format string, args ...any) error {
	return &syntaxError{line: line, msg: fmt.Sprintf(format, args...)}
}

// position turns a syntaxError into "zone FILE: line N: reason".
func (s *scanner) position(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		msg := fmt.Sprintf("zone %s: line %d: %s", s.b.files[s.in.file], se.line, se.msg)
		if se.err != nil {
			return &posError{msg: msg, err: se.err}
		}
		return errors.New(msg)
	}
	return err
}

// posError is a positioned error that wraps another (an os error, or
// ErrNoOrigin).
type posError struct {
	msg string
	err error
}

func (e *posError) Error() string { return e.msg }
func (e *posError) Unwrap() error { return e.err }

// tok returns the raw bytes of a token.
func (s *scanner) tok(t token) []byte { return s.text[t.start:t.end] }

// delim marks the bytes that end an unquoted token, and '\\'.
var delim = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, ';': true, '(': true, ')': true, '"': true, '\\': true}

// lex reads the next entry's tokens. It returns false at the end of the
// current input.
func (s *scanner) lex() (bool, error) {
	in := s.in
	s.toks, s.text = s.toks[:0], s.text[:0]
	s.blank = false
	depth, parenLine := 0, uint32(0)
	lineStart := true
	for {
		if in.pos >= len(in.buf) && !in.fill() {
			if in.err != io.EOF {
				return false, &syntaxError{line: in.line, msg: "read: " + in.err.Error(), err: in.err}
			}
			if depth > 0 {
				return false, s.errLine(parenLine, "unbalanced parenthesis: the ( on this line is never closed")
			}
			return len(s.toks) > 0, nil
		}
		c := in.buf[in.pos]
		switch c {
		case '\r':
			// Part of a CRLF line end (or the last byte), or else an
			// ordinary byte of a word, as in NSD.
			if in.ensure(2) && in.buf[in.pos+1] != '\n' {
				break
			}
			in.pos++
			continue
		case ' ', '\t':
			if lineStart && len(s.toks) == 0 {
				s.blank = true
			}
			in.pos++
			lineStart = false
			continue
		case '\n':
			in.pos++
			in.line++
			lineStart = true
			if depth == 0 {
				if len(s.toks) > 0 {
					return true, nil
				}
				s.blank = false
			}
			continue
		case ';':
			for {
				i := bytes.IndexByte(in.buf[in.pos:], '\n')
				if i >= 0 {
					in.pos += i
					break
				}
				in.pos = len(in.buf)
				if !in.fill() {
					break
				}
			}
			continue
		case '(':
			if depth == 0 {
				parenLine = in.line
			}
			depth++
			in.pos++
			lineStart = false
			continue
		case ')':
			if depth == 0 {
				return false, s.errLine(in.line, "unbalanced parenthesis: ) without an opening (")
			}
			depth--
			in.pos++
			lineStart = false
			continue
		}
		if lineStart && len(s.toks) == 0 {
			s.blank = false
		}
		lineStart = false
		if len(s.toks) == 0 {
			s.line = in.line
		}
		if c == '"' {
			if err := s.lexQuoted(); err != nil {
				return false, err
			}
		} else if err := s.lexWord(); err != nil {
			return false, err
		}
	}
}

// maxToken bounds one token: rdata is at most 65535 octets, and a base64
// or hex token longer than that is an error in any case.
const maxToken = 1 << 17

// lexWord reads an unquoted token. A backslash escapes the next byte,
// delimiters included.
func (s *scanner) lexWord() error {
	in := s.in
	t := token{start: uint32(len(s.text)), line: in.line}
	for {
		i := in.pos
		for i < len(in.buf) && !delim[in.buf[i]] {
			i++
		}
		s.text = append(s.text, in.buf[in.pos:i]...)
		in.pos = i
		if len(s.text)-int(t.start) > maxToken {
			return s.errTok(t, "word longer than %d octets", maxToken)
		}
		if i == len(in.buf) {
			if !in.fill() {
				break
			}
			continue
		}
		if in.buf[i] == '\r' {
			if in.ensure(2) && in.buf[in.pos+1] != '\n' {
				s.text = append(s.text, '\r')
				in.pos++
				continue
			}
			break
		}
		if in.buf[i] != '\\' {
			break
		}
		// An escape: keep the backslash and the next byte (which may be
		// in the next block); \DDD's digits follow as plain bytes.
		s.text = append(s.text, '\\')
		in.pos++
		if in.pos == len(in.buf) && !in.fill() {
			return s.errTok(t, "backslash at the end of the file")
		}
		if in.buf[in.pos] == '\n' {
			in.line++
		}
		s.text = append(s.text, in.buf[in.pos])
		in.pos++
	}
	t.end = uint32(len(s.text))
	s.toks = append(s.toks, t)
	return nil
}

// lexQuoted reads a quoted token; it may span lines. The quotes are not
// kept.
func (s *scanner) lexQuoted() error {
	in := s.in
	t := token{start: uint32(len(s.text)), line: in.line, quoted: true}
	in.pos++ // the opening quote
	for {
		if in.pos == len(in.buf) && !in.fill() {
			return s.errTok(t, "unterminated quoted string: the \" on this line is never closed")
		}
		c := in.buf[in.pos]
		in.pos++
		switch c {
		case '"':
			t.end = uint32(len(s.text))
			s.toks = append(s.toks, t)
			return nil
		case '\n':
			in.line++
		case '\\':
			s.text = append(s.text, c)
			if in.pos == len(in.buf) && !in.fill() {
				return s.errTok(t, "unterminated quoted string: the \" on this line is never closed")
			}
			c = in.buf[in.pos]
			in.pos++
			if c == '\n' {
				in.line++
			}
		}
		s.text = append(s.text, c)
		if len(s.text)-int(t.start) > maxToken {
			return s.errTok(t, "quoted string longer than %d octets", maxToken)
		}
	}
}

// run reads every entry of the inputs into the builder.
func (s *scanner) run() error {
	for {
		ok, err := s.lex()
		if err != nil {
			return s.position(err)
		}
		if !ok {
			if len(s.stack) == 0 {
				return nil
			}
			s.pop()
			continue
		}
		if err := s.entry(); err != nil {
			return s.position(err)
		}
	}
}

// entry handles one entry: a directive or a record.
func (s *scanner) entry() error {
	t0 := s.toks[0]
	if !s.blank && !t0.quoted && s.text[t0.start] == '$' {
		return s.directive()
	}
	return s.record(s.toks, s.blank, nil)
}

// directive handles $ORIGIN, $TTL, $INCLUDE and $GENERATE.
func (s *scanner) directive() error {
	t := s.toks
	d := s.tok(t[0])
	args := t[1:]
	switch {
	case asciiEqualFold(d, "$ORIGIN"):
		if len(args) != 1 {
			return s.errTok(t[0], "$ORIGIN takes one domain name, got %d words", len(args))
		}
		o, err := s.absName(args[0], s.origin)
		if err != nil {
			return err
		}
		s.origin = append([]byte(nil), o...) // o is in s.name
		return nil
	case asciiEqualFold(d, "$TTL"):
		if len(args) != 1 {
			return s.errTok(t[0], "$TTL takes one TTL, got %d words", len(args))
		}
		ttl, err := parseTTL(s.tok(args[0]))
		if err != nil {
			return s.errTok(args[0], "bad $TTL %s: %v", tokText(s.tok(args[0])), err)
		}
		s.defTTL, s.ttlByDir, s.ttlKnown = ttl, true, true
		return nil
	case asciiEqualFold(d, "$INCLUDE"):
		if len(args) < 1 || len(args) > 2 {
			return s.errTok(t[0], "$INCLUDE takes a file name and an optional origin, got %d words", len(args))
		}
		return s.include(args)
	case asciiEqualFold(d, "$GENERATE"):
		return s.generate(args)
	}
	return s.errTok(t[0], "unknown directive %s (known: $ORIGIN, $TTL, $INCLUDE, $GENERATE)", tokText(d))
}

// maxIncludeDepth bounds nested $INCLUDEs (and so include loops).
const maxIncludeDepth = 16

// include starts reading an included file. RFC 1035 section 5.1: the
// origin and the current owner revert to their values before it when it
// ends.
func (s *scanner) include(args []token) error {
	if !s.includes {
		return s.errTok(args[0], "$INCLUDE is not allowed here")
	}
	path := string(unescapeText(nil, s.tok(args[0])))
	origin := s.origin
	if len(args) == 2 {
		o, err := s.absName(args[1], s.origin)
		if err != nil {
			return err
		}
		origin = append([]byte(nil), o...)
	}
	if len(s.stack) >= maxIncludeDepth {
		return s.errTok(args[0], "$INCLUDE nested more than %d deep (an include loop?)", maxIncludeDepth)
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(s.in.dir, full)
	}
	f, err := os.Open(full)
	if err == nil {
		// Not a FIFO or a device that never ends.
		if fi, serr := f.Stat(); serr != nil || !fi.Mode().IsRegular() {
			f.Close()
			err = serr
			if err == nil {
				err = &fs.PathError{Op: "open", Path: full, Err: errors.New("not a regular file")}
			}
		}
	}
	if err != nil {
		return &syntaxError{line: args[0].line, msg: "$INCLUDE " + path + ": " + err.Error(), err: err}
	}
	if len(s.b.files) >= 1<<16-1 {
		f.Close()
		return s.errTok(args[0], "more than 65535 included files")
	}
	display := full
	if s.relative {
		if abs, err := filepath.Abs(full); err == nil {
			if rel, err := filepath.Rel(s.cwd, abs); err == nil && !strings.HasPrefix(rel, "..") {
				display = rel
			}
		}
	}
	s.b.files = append(s.b.files, display)
	s.b.included = append(s.b.included, full)
	var buf []byte
	if n := len(s.bufs); n > 0 {
		buf, s.bufs = s.bufs[n-1][:0], s.bufs[:n-1]
	} else {
		buf = make([]byte, 0, readBlock)
	}
	in := &input{r: f, closer: f, buf: buf, file: uint16(len(s.b.files) - 1), line: 1, dir: filepath.Dir(full)}
	s.stack = append(s.stack, s.in)
	s.saved = append(s.saved, savedState{origin: s.origin, owner: append([]byte(nil), s.owner...), ownerOK: s.ownerOK})
	s.in = in
	s.origin = origin
	return s.skipBOM()
}

// savedState is what an $INCLUDE restores at its end.
type savedState struct {
	origin  []byte
	owner   []byte
	ownerOK bool
}

// pop ends an included file.
func (s *scanner) pop() {
	if s.in.closer != nil {
		s.in.closer.Close()
	}
	s.bufs = append(s.bufs, s.in.buf)
	n := len(s.stack) - 1
	s.in, s.stack = s.stack[n], s.stack[:n]
	st := s.saved[n]
	s.saved = s.saved[:n]
	s.origin, s.owner, s.ownerOK = st.origin, append(s.owner[:0], st.owner...), st.ownerOK
}

func (s *scanner) closeAll() {
	for len(s.stack) > 0 {
		s.pop()
	}
}

// readBlock is the size of read buffers.
const readBlock = 64 << 10

// skipBOM drops a UTF-8 byte order mark at the start of the input, with
// a warning: NSD and Knot DNS reject such files.
func (s *scanner) skipBOM() error {
	in := s.in
	in.ensure(3)
	if bytes.HasPrefix(in.buf[in.pos:], []byte("\xef\xbb\xbf")) {
		in.pos += 3
		s.b.warn(in.file, 1, "byte order mark (U+FEFF) at the start of the file ignored; NSD and Knot DNS reject it")
	}
	return nil
}

// record handles a record entry: [owner] [TTL] [class] type rdata. blank
// means the owner is the previous record's. gen, for a record made by
// $GENERATE, is the line of the directive, for messages.
func (s *scanner) record(toks []token, blank bool, gen *uint32) error {
	i := 0
	var owner []byte
	if blank {
		if !s.ownerOK {
			return s.errTok(toks[0], "this record has no owner name (its line starts with a blank, and no record came before it)")
		}
		owner = s.owner
	} else {
		o, err := s.ownerName(toks[0])
		if err != nil {
			return err
		}
		owner = o
		i = 1
	}
	var ttl uint32
	hasTTL, hasClass := false, false
	typ := -1
	for ; i < len(toks); i++ {
		t := toks[i]
		w := s.tok(t)
		if t.quoted {
			return s.errTok(t, "expected a TTL, a class or a record type, not the quoted string %s", tokText(w))
		}
		if w[0] >= '0' && w[0] <= '9' {
			if hasTTL {
				return s.errTok(t, "%s: a second TTL (expected a class or a record type)", tokText(w))
			}
			v, err := parseTTL(w)
			if err != nil {
				return s.errTok(t, "bad TTL %s: %v", tokText(w), err)
			}
			ttl, hasTTL = v, true
			continue
		}
		if c, ok := parseClass(w); ok {
			if hasClass {
				return s.errTok(t, "%s: a second class (expected a record type)", tokText(w))
			}
			if c != classIN {
				return s.errTok(t, "class %s not supported (only IN)", classText(c))
			}
			hasClass = true
			continue
		}
		if v, ok := parseType(w); ok {
			typ = int(v)
			i++
			break
		}
		return s.errTok(t, "%s is neither a TTL, a class nor a record type", tokText(w))
	}
	if typ < 0 {
		return s.errTok(toks[len(toks)-1], "record without a type")
	}
	if !hasTTL {
		if !s.ttlKnown {
			ttl = defaultTTL
		} else {
			ttl = s.defTTL
		}
	} else if !s.ttlByDir {
		s.defTTL, s.ttlKnown = ttl, true
	}
	line := toks[0].line
	if gen != nil {
		line = *gen
	}
	rd, err := s.rdata(uint16(typ), toks[i:], line)
	if err != nil {
		return err
	}
	if !blank {
		s.owner = append(s.owner[:0], owner...)
		s.ownerOK = true
	}
	return s.b.add(owner, uint16(typ), ttl, rd, s.in.file, line)
}

// ownerName converts an owner token to a canonical name.
func (s *scanner) ownerName(t token) ([]byte, error) {
	n, err := s.absName(t, s.origin)
	if err != nil {
		return nil, err
	}
	lower(n)
	return n, nil
}

// absName converts a name token to an absolute wire name (case kept)
// relative to origin. The result is in s.name and valid until the next
// call.
func (s *scanner) absName(t token, origin []byte) ([]byte, error) {
	if t.quoted {
		return nil, s.errTok(t, "a domain name cannot be quoted: %s", tokText(s.tok(t)))
	}
	n, err := appendName(s.name[:0], s.tok(t), origin)
	if err != nil {
		if errors.Is(err, errNoOrigin) {
			return nil, &syntaxError{line: t.line, msg: fmt.Sprintf("relative name %s, but %s: put $ORIGIN before this line or give the zone's origin", tokText(s.tok(t)), errNoOrigin), err: errNoOrigin}
		}
		return nil, s.errTok(t, "bad domain name %s: %v", tokText(s.tok(t)), err)
	}
	return n, nil
}

// defaultTTL is the TTL of records when the file gives none before them
// (no $TTL, no earlier explicit TTL), as in NSD.
const defaultTTL = 3600

// tokText shows a token in a message: bare when that is unambiguous,
// quoted otherwise, and shortened when long.
func tokText(t []byte) string {
	s := string(t)
	if len(s) > 80 {
		s = s[:60] + "..." + s[len(s)-10:]
	}
	if s == "" || strings.ContainsAny(s, " \t\"") || strconv.QuoteToASCII(s) != `"`+s+`"` {
		return strconv.QuoteToASCII(s)
	}
	return s
}

// asciiEqualFold reports whether b equals the upper-case ASCII word s,
// ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// upper copies an ASCII word upper-cased into buf, for table lookups.
func upper(buf []byte, w []byte) []byte {
	buf = buf[:0]
	for _, c := range w {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// parseClass recognizes a class mnemonic or CLASSnnn.
func parseClass(w []byte) (uint16, bool) {
	switch {
	case asciiEqualFold(w, "IN"):
		return 1, true
	case asciiEqualFold(w, "CH"), asciiEqualFold(w, "CS"):
		return 3, true
	case asciiEqualFold(w, "HS"):
		return 4, true
	case asciiEqualFold(w, "NONE"):
		return 254, true
	case asciiEqualFold(w, "ANY"):
		return 255, true
	}
	if len(w) > 5 && asciiEqualFold(w[:5], "CLASS") {
		if v, ok := atou(w[5:], 0xffff); ok {
			return uint16(v), true
		}
	}
	return 0, false
}

// parseType recognizes a type mnemonic or TYPEnnn.
func parseType(w []byte) (uint16, bool) {
	if len(w) > 4 && asciiEqualFold(w[:4], "TYPE") {
		if v, ok := atou(w[4:], 0xffff); ok {
			return uint16(v), true
		}
	}
	if len(w) > 16 {
		return 0, false
	}
	var buf [16]byte
	t, ok := typeByName[string(upper(buf[:0], w))]
	return t, ok
}

// atou parses a decimal number of at most max.
func atou(w []byte, max uint64) (uint64, bool) {
	if len(w) == 0 || len(w) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range w {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}

// parseTTL parses a TTL: seconds, or a sum of numbers with units
// (1h30m, 2W; s, m, h, d, w in any case), as NSD and Knot DNS accept.
func parseTTL(w []byte) (uint32, error) {
	if len(w) == 0 {
		return 0, errors.New("empty")
	}
	var total, cur uint64
	digits := false
	units := false
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9':
			cur = cur*10 + uint64(c-'0')
			digits = true
			if cur > 1<<32 {
				return 0, errors.New("larger than 4294967295")
			}
			continue
		case !digits:
			return 0, errors.New("a unit without a number")
		}
		var m uint64
		switch c | 0x20 {
		case 's':
			m = 1
		case 'm':
			m = 60
		case 'h':
			m = 3600
		case 'd':
			m = 86400
		case 'w':
			m = 604800
		default:
			return 0, fmt.Errorf("%q is not a unit (s, m, h, d, w)", c)
		}
		total += cur * m
		cur, digits, units = 0, false, true
		if total > 1<<32-1 {
			return 0, errors.New("larger than 4294967295")
		}
	}
	_ = units // a last number without a unit counts seconds (1h30 is 3630), as in NSD
	total += cur
	if total > 1<<32-1 {
		return 0, errors.New("larger than 4294967295")
	}
	return uint32(total), nil
}
