package zone

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// LoadFile reads, validates and compiles the zone file at path. The origin
// is taken from the file ($ORIGIN, or the owner of the SOA record).
// $INCLUDE paths are relative to the directory of the including file.
func LoadFile(path string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", path, err)
	}
	defer f.Close()
	return Parse(f, path, "")
}

// Parse reads, validates and compiles a zone in RFC 1035 master file format
// from r. file names the input in errors and in Zone.File and is the base
// for relative $INCLUDE paths (the current directory when file is "").
// origin is the zone's apex in presentation format; when it is "" the apex
// is the owner of the SOA record, and relative names need an $ORIGIN.
//
// Errors have the form "zone FILE: line N: reason". Only class IN is
// accepted.
func Parse(r io.Reader, file, origin string) (*Zone, error) {
	display := file
	if display == "" {
		display = "(input)"
	}
	b := newBuilder(file)

	// The parser is given an absolute file name so that our include FS
	// (which miekg hands slash-trimmed paths) can resolve every path as
	// absolute.
	abs, err := filepath.Abs(file)
	if file == "" || err != nil {
		abs, _ = filepath.Abs("zone")
	}
	cwd, _ := filepath.Abs(".")
	src := &sources{cwd: cwd, relative: !filepath.IsAbs(file), byParserName: map[string]int{}}
	top := src.add(abs, display, r)
	defer src.closeAll()
	b.files = src

	if origin != "" {
		wire, ok := canonicalName(origin)
		if !ok {
			return nil, fmt.Errorf("zone %s: bad origin %q", display, origin)
		}
		b.setOrigin(wire)
	}

	zp := dns.NewZoneParser(top, origin, abs)
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(src)
	for {
		src.mark()
		rr, ok := zp.Next()
		if !ok {
			break
		}
		at := src.last
		if at == nil {
			at = top
		}
		if err := b.add(rr, at.file, at.start); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		return nil, src.convert(err)
	}
	return b.finish()
}

// canonicalName converts a presentation-format name to the canonical wire
// form used as keys in this package: absolute, uncompressed, ASCII
// lower-cased.
func canonicalName(s string) ([]byte, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		return nil, false
	}
	out := append([]byte(nil), buf[:n]...)
	lower(out)
	return out, true
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

// nameText returns the presentation form of a wire name, for messages.
func nameText(wire string) string {
	s, _, err := dns.UnpackDomainName([]byte(wire), 0)
	if err != nil {
		return fmt.Sprintf("%q", wire)
	}
	return s
}

// sources tracks the input files (the top-level reader and every
// $INCLUDE) so that each record can be attributed to a file and line:
// miekg's parser does not expose the position of a record, so every input
// is read through a lineReader that notes where the latest entry starts.
type sources struct {
	cwd          string
	relative     bool // the top-level file name was relative: show included ones relative too
	files        []string
	byParserName map[string]int // the file name miekg reports -> index in files
	open         []*lineReader
	last         *lineReader // the input that most recently started an entry
}

func (s *sources) add(parserName, display string, r io.Reader) *lineReader {
	s.byParserName[parserName] = len(s.files)
	lr := &lineReader{src: s, file: len(s.files), br: bufio.NewReaderSize(r, 64<<10), line: 1, start: 1}
	s.files = append(s.files, display)
	if c, ok := r.(io.Closer); ok {
		lr.closer = c
	}
	s.open = append(s.open, lr)
	return lr
}

// mark starts a new record: the next entry start seen in any input is its
// first line.
func (s *sources) mark() { s.last = nil }

func (s *sources) closeAll() {
	for _, lr := range s.open[1:] { // the caller owns the top-level reader
		if lr.closer != nil {
			lr.closer.Close()
		}
	}
}

// Open implements fs.FS for miekg's $INCLUDE handling. miekg joins a
// relative include path with the including file's directory and strips
// the leading slash; every parser file name is absolute (see Parse), so
// name is an absolute path without its leading slash.
func (s *sources) Open(name string) (fs.File, error) {
	p := "/" + name
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	display := p
	if s.relative {
		if rel, err := filepath.Rel(s.cwd, p); err == nil && !strings.HasPrefix(rel, "..") {
			display = rel
		}
	}
	return &includeFile{lineReader: s.add(name, display, f), f: f}, nil
}

type includeFile struct {
	*lineReader
	f *os.File
}

func (f *includeFile) Stat() (fs.FileInfo, error) { return f.f.Stat() }
func (f *includeFile) Close() error {
	f.closer = nil
	return f.f.Close()
}

// lineReader is the io.ByteReader miekg's lexer reads through. It tracks
// just enough of the master file syntax (comments, quotes, parentheses)
// to know the line on which the latest entry started.
type lineReader struct {
	src    *sources
	file   int
	br     *bufio.Reader
	closer io.Closer

	line    int  // line of the next byte
	start   int  // line where the latest entry started
	started bool // the current entry has started
	comment bool
	quote   bool
	escape  bool
	depth   int // open parentheses
}

// Read is never used by the lexer (it prefers ReadByte) but keeps the
// position right if it were.
func (r *lineReader) Read(p []byte) (int, error) {
	for i := range p {
		c, err := r.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}

func (r *lineReader) ReadByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return c, err
	}
	switch {
	case r.comment:
		if c == '\n' {
			r.comment = false
		}
	case r.escape:
		r.escape = false
	case c == '\\':
		r.escape = true
	case c == '"':
		r.quote = !r.quote
	case r.quote:
	case c == ';':
		r.comment = true
	case c == '(':
		r.depth++
	case c == ')':
		if r.depth > 0 {
			r.depth--
		}
	}
	if !r.started && c != ' ' && c != '\t' && c != '\r' && c != '\n' && !r.comment {
		r.started = true
		r.start = r.line
		r.src.last = r
	}
	if c == '\n' {
		r.line++
		if r.depth == 0 && !r.quote {
			r.started = false
			r.comment = false
		}
	}
	return c, nil
}

// parseErrRE matches the text of a *dns.ParseError, whose fields are not
// exported: "[file: ]dns: reason: "token" at line: L:C".
var parseErrRE = regexp.MustCompile(`(?s)^(?:(.*): )?dns: (.*): ("(?:[^"\\]|\\.)*") at line: (\d+):(\d+)$`)

// convert turns an error of miekg's parser into "zone FILE: line N: reason".
func (s *sources) convert(err error) error {
	var pe *dns.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("zone %s: %w", s.files[0], err)
	}
	m := parseErrRE.FindStringSubmatch(pe.Error())
	if m == nil {
		return fmt.Errorf("zone %s: %s", s.files[0], strings.TrimPrefix(pe.Error(), "dns: "))
	}
	file := s.files[0]
	if i, ok := s.byParserName[m[1]]; ok {
		file = s.files[i]
	}
	reason, line := m[2], m[4]
	token, uerr := strconv.Unquote(m[3])
	if uerr != nil {
		token = m[3]
	}
	if under := errors.Unwrap(pe); under != nil {
		var pathErr *fs.PathError
		if errors.As(under, &pathErr) {
			return fmt.Errorf("zone %s: line %s: $INCLUDE %s: %w", file, line, token, under)
		}
		return fmt.Errorf("zone %s: line %s: %s: %w", file, line, tokenText(token), under)
	}
	return fmt.Errorf("zone %s: line %s: %s", file, line, describe(reason, token))
}

// describe rewrites miekg's terse reasons ("bad A A", "bad MX Pref") for
// people.
func describe(reason, token string) string {
	if rest, ok := strings.CutPrefix(reason, "bad "); ok {
		typ, field, _ := strings.Cut(rest, " ")
		if _, known := dns.StringToType[typ]; known && field != "" {
			if field == typ {
				return "bad " + typ + " record " + tokenText(token)
			}
			return "bad " + typ + " record: bad " + field + " " + tokenText(token)
		}
	}
	if token == "" {
		return reason
	}
	return reason + " " + tokenText(token)
}

// tokenText shows a token bare when that is unambiguous, quoted otherwise.
func tokenText(t string) string {
	if t == "" || strings.ContainsAny(t, " \t\"\\") || strconv.QuoteToASCII(t) != `"`+t+`"` {
		return strconv.QuoteToASCII(t)
	}
	return t
}
