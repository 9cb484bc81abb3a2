package zone

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadFile reads, validates and compiles the zone file at path. The origin
// is taken from the file ($ORIGIN, or the owner of the SOA record).
// $INCLUDE paths are relative to the directory of the including file.
func LoadFile(path string) (*Zone, error) {
	return LoadFileOrigin(path, "")
}

// LoadFileOrigin is LoadFile with the zone's origin given (presentation
// format; "" takes it from the file): relative names before any $ORIGIN
// are relative to it, and the SOA record must be at it.
func LoadFileOrigin(path, origin string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", path, err)
	}
	defer f.Close()
	return Parse(f, path, origin)
}

// Parse reads, validates and compiles a zone in RFC 1035 master file format
// from r. file names the input in errors and in Zone.File and is the base
// for relative $INCLUDE paths (the current directory when file is "").
// origin is the zone's apex in presentation format; when it is "" the apex
// is the owner of the SOA record, and relative names need an $ORIGIN.
//
// Errors have the form "zone FILE: line N: reason" (FILE is "(input)"
// when file is ""); errors from the file system wrap the os error, and
// those caused by a relative name with no origin known wrap ErrNoOrigin.
// Only class IN is accepted. Records before any TTL is known get 3600, as
// in NSD. Problems that do not stop the load (see Zone.Warnings) are
// collected in the zone.
func Parse(r io.Reader, file, origin string) (*Zone, error) {
	return parse(r, file, origin, true)
}

// parse is Parse with $INCLUDE optional: the fuzz tests must not open
// files.
func parse(r io.Reader, file, origin string, includes bool) (*Zone, error) {
	b := newBuilder(file)
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		b.presize(int64(r.Len()))
	case interface{ Stat() (fs.FileInfo, error) }: // os.File
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			b.presize(fi.Size())
		}
	}
	dir := "."
	if file != "" {
		dir = filepath.Dir(file)
	}
	s := &scanner{
		b:        b,
		includes: includes,
		relative: !filepath.IsAbs(file),
		in:       &input{r: r, buf: make([]byte, 0, readBlock), line: 1, dir: dir},
	}
	s.cwd, _ = filepath.Abs(".")
	defer s.closeAll()
	if origin != "" {
		wire, ok := canonicalName(origin)
		if !ok {
			return nil, fmt.Errorf("zone %s: bad origin %q", b.files[0], origin)
		}
		b.setOrigin(wire)
		// Relative names take the origin's case, as with $ORIGIN.
		s.origin, _ = appendName(nil, []byte(origin), []byte{0})
	}
	if err := s.skipBOM(); err != nil {
		return nil, err
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	s.closeAll()
	z, err := b.finish()
	if err != nil {
		return nil, err
	}
	z.included = b.included
	return z, nil
}
