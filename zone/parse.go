package zone

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// defaultTTL is the TTL of records when the file gives none before them
// (no $TTL, no earlier explicit TTL), as in NSD.
const defaultTTL = 3600

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
// Errors have the form "zone FILE: line N: reason" (FILE is "(input)"
// when file is ""); errors from the file system wrap the os error. Only
// class IN is accepted. Records before any TTL is known get 3600, as in
// NSD; $GENERATE records always do (miekg/dns ignores $TTL for them).
//
// Parse reads r from a goroutine of its own, so that parsing overlaps
// compiling; the goroutine has ended when Parse returns.
func Parse(r io.Reader, file, origin string) (*Zone, error) {
	return parse(r, file, origin, true)
}

// parse is Parse with $INCLUDE optional: the fuzz tests must not open
// files.
func parse(r io.Reader, file, origin string, includes bool) (*Zone, error) {
	display := file
	if display == "" {
		display = "(input)"
	}
	b := newBuilder(file)
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		b.presize(int64(r.Len()))
	case interface{ Stat() (fs.FileInfo, error) }: // os.File
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			b.presize(fi.Size())
		}
	}

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

	if origin != "" {
		wire, ok := canonicalName(origin)
		if !ok {
			return nil, fmt.Errorf("zone %s: bad origin %q", display, origin)
		}
		b.setOrigin(wire)
	}

	zp := dns.NewZoneParser(top, origin, abs)
	zp.SetIncludeAllowed(includes)
	// Records before any TTL get NSD's default rather than an error.
	zp.SetDefaultTTL(defaultTTL)
	zp.SetIncludeFS(src)

	// miekg's parser runs in its own goroutine and hands over records in
	// batches, so that parsing (most of the work) overlaps packing and
	// indexing when a second core is free.
	out := make(chan []parsed, 4)
	free := make(chan []parsed, 6)
	stop := make(chan struct{})
	done := make(chan struct{})
	var perr error
	go func() {
		defer close(done)
		defer close(out)
		batch := make([]parsed, 0, batchLen)
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
			batch = append(batch, parsed{rr: rr, file: int32(at.file), line: int32(at.start)})
			if len(batch) == batchLen {
				select {
				case out <- batch:
				case <-stop:
					return
				}
				select {
				case batch = <-free:
				default:
					batch = make([]parsed, 0, batchLen)
				}
			}
		}
		if len(batch) > 0 {
			select {
			case out <- batch:
			case <-stop:
				return
			}
		}
		perr = zp.Err()
	}()

	var aerr error
	for batch := range out {
		for i := 0; i < len(batch) && aerr == nil; i++ {
			p := &batch[i]
			if int(p.file) >= len(b.files) {
				b.files = src.names()
			}
			if aerr = addRR(b, p.rr, int(p.file), int(p.line)); aerr != nil {
				close(stop)
			}
		}
		clear(batch) // the RRs are garbage now
		select {
		case free <- batch[:0]:
		default:
		}
	}
	<-done
	if aerr != nil {
		return nil, aerr
	}
	if perr != nil {
		return nil, src.convert(perr)
	}
	b.files = src.names()
	return b.finish()
}

// addRR packs one record parsed by miekg/dns and adds it.
func addRR(b *builder, rr dns.RR, file int, line int) error {
	h := rr.Header()
	f, l := uint16(file), uint32(line)
	if h.Class != dns.ClassINET {
		return b.errAt(f, l, "class %s not supported (only IN)", dns.Class(h.Class))
	}
	owner := b.scratch[:]
	n, err := dns.PackDomainName(h.Name, owner, 0, nil, false)
	if err != nil {
		return b.errAt(f, l, "bad owner name %s: %v", h.Name, err)
	}
	lower(owner[:n])
	name := h.Name
	h.Name = "."
	if b.pack == nil {
		b.pack = make([]byte, 64<<10+512)
	}
	pack := b.pack
	end, err := dns.PackRR(rr, pack, 0, nil, false)
	h.Name = name
	if err != nil {
		return b.errAt(f, l, "cannot encode %s record: %v", dns.Type(h.Rrtype), err)
	}
	return b.add(owner[:n], h.Rrtype, h.Ttl, pack[end-int(h.Rdlength):end], f, l)
}

// parsed is a record handed from the parsing goroutine to the compiler.
type parsed struct {
	rr   dns.RR
	file int32
	line int32
}

const batchLen = 256

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
// NameText renders a canonical wire-format name (such as Zone.Origin or
// Node.Name) in presentation format, with RFC 1035 escapes, for messages,
// logs and metrics.
func NameText(wire string) string {
	if wire == "" {
		return "."
	}
	return nameText(wire)
}

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
	mu sync.Mutex // guards files: the parser adds includes while the compiler reads

	cwd          string
	relative     bool // the top-level file name was relative: show included ones relative too
	files        []string
	byParserName map[string]int // the file name miekg reports -> index in files
	open         []*lineReader
	last         *lineReader // the input that most recently started an entry
}

func (s *sources) add(parserName, display string, r io.Reader) *lineReader {
	s.mu.Lock()
	s.byParserName[parserName] = len(s.files)
	lr := &lineReader{src: s, file: len(s.files), r: r, line: 1, start: 1}
	s.files = append(s.files, display)
	s.mu.Unlock()
	if c, ok := r.(io.Closer); ok {
		lr.closer = c
	}
	s.open = append(s.open, lr)
	return lr
}

// mark starts a new record: the next entry start seen in any input is its
// first line.
func (s *sources) mark() { s.last = nil }

// names returns the names of the inputs so far.
func (s *sources) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.files...)
}

// name returns the name of input i for messages.
func (s *sources) name(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[i]
}

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
	// Not a FIFO or a device that never ends.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: p, Err: errors.New("not a regular file")}
		}
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
// to know the line on which the latest entry started. It buffers itself:
// one indirection less than a bufio.Reader underneath.
type lineReader struct {
	src    *sources
	file   int
	r      io.Reader
	closer io.Closer
	buf    []byte
	pos    int
	err    error

	line    int  // line of the next byte
	start   int  // line where the latest entry started
	started bool // the current entry has started
	plain   bool // started, and not in a comment, quote or escape
	comment bool
	quote   bool
	escape  bool
	depth   int // open parentheses
}

// special marks the bytes that can change lineReader's state once an
// entry has started.
var special = [256]bool{'\n': true, '"': true, '\\': true, ';': true, '(': true, ')': true}

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

func (r *lineReader) fill() error {
	if r.err != nil {
		return r.err
	}
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	for range 100 {
		n, err := r.r.Read(r.buf[:cap(r.buf)])
		r.buf, r.pos = r.buf[:n], 0
		if err != nil {
			r.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	r.err = io.ErrNoProgress
	return r.err
}

func (r *lineReader) ReadByte() (byte, error) {
	if r.pos >= len(r.buf) {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	c := r.buf[r.pos]
	r.pos++
	if r.plain && !special[c] {
		return c, nil // the common case
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
	r.plain = r.started && !r.comment && !r.quote && !r.escape
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
			return fmt.Errorf("zone %s: line %s: $INCLUDE %s: %w", file, line, token, pathErr)
		}
		return fmt.Errorf("zone %s: line %s: %s: %w", file, line, tokenText(token), under)
	}
	return fmt.Errorf("zone %s: line %s: %s", file, line, describe(reason, token))
}

// describe rewrites miekg's terse reasons ("bad A A", "bad MX Pref") for
// people.
func describe(reason, token string) string {
	if reason == "not a TTL" {
		return tokenText(token) + " is neither a TTL, a class nor a record type"
	}
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
