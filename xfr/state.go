package xfr

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// The state directory (--state-dir) holds, for each secondary zone NAME
// (its presentation name without the final dot, lower case, with the
// characters other than letters, digits, '-', '_' and '.' as %XX; a
// leading '.' and the root as %2E):
//
//	NAME.zone     the zone, as a zone file (readable, and loaded with the
//	              zone file parser, so with all of its checks)
//	NAME.journal  its journal of differences (binary, checksummed)
//	NAME.meta     JSON: serial, primary, time of the last good refresh
//
// Each file is replaced atomically (written beside, synced, renamed), so
// a crash leaves the old or the new file, never half of one. The zone file
// is written before the meta file, which names the serial it goes with:
// a zone whose meta disagrees is still loaded, its refresh time unknown.

// stateMeta is the NAME.meta file.
type stateMeta struct {
	Zone    string    `json:"zone"`
	Serial  uint32    `json:"serial"`
	Primary string    `json:"primary"`
	LastOK  time.Time `json:"last_ok"`
	// CatalogID is the member's unique label in its catalog (RFC 9432),
	// so that a change of it (a reset) is seen across restarts.
	CatalogID string `json:"catalog_id,omitempty"`
}

// stateBase returns the path of a zone's state files without extension.
func stateBase(dir string, origin []byte) string {
	name := strings.ToLower(nameText(origin))
	if name == "." {
		return filepath.Join(dir, "%2E") // as the encoding below would write it
	}
	name = strings.TrimSuffix(name, ".")
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return filepath.Join(dir, b.String())
}

// writeAtomic writes a file through write, atomically.
func writeAtomic(path string, write func(w *bufio.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	w := bufio.NewWriterSize(f, 256<<10)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync() // the rename itself survives a crash
		d.Close()
	}
	return nil
}

// writeZoneFile writes z as a zone file: $ORIGIN, the SOA, then every
// record in canonical order, one per line.
func writeZoneFile(path string, z *zone.Zone) error {
	return writeAtomic(path, func(w *bufio.Writer) error {
		fmt.Fprintf(w, "; zone %s serial %d, written by tapdns\n$ORIGIN %s\n", nameText([]byte(z.Origin)), z.Serial, nameText([]byte(z.Origin)))
		var rr RR
		z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
			rr = RR{Owner: owner, Type: typ, Class: dnswire.ClassIN, TTL: ttl, Rdata: rdata}
			w.WriteString(rrText(&rr))
			w.WriteByte('\n')
			return true
		})
		return nil
	})
}

// journal file format: "TAPDNSJ1", the number of differences (uint32),
// each difference as its old SOA, new SOA, deletion count (uint32),
// deletions, addition count, additions, each record as owner, type,
// class, TTL, rdata length and rdata; then the CRC-32 (IEEE) of
// everything before it.
const journalMagic = "TAPDNSJ1"

func writeJournalFile(path string, j *Journal) error {
	return writeAtomic(path, func(w *bufio.Writer) error {
		h := crc32.NewIEEE()
		mw := io.MultiWriter(w, h)
		var buf []byte
		buf = append(buf, journalMagic...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(j.Len()))
		mw.Write(buf)
		for _, d := range j.Diffs() {
			buf = packRR(buf[:0], &d.OldSOA)
			buf = packRR(buf, &d.NewSOA)
			for _, l := range [2][]RR{d.Del, d.Add} {
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(l)))
				for i := range l {
					buf = packRR(buf, &l[i])
					if len(buf) > 64<<10 {
						mw.Write(buf)
						buf = buf[:0]
					}
				}
			}
			mw.Write(buf)
		}
		w.Write(binary.BigEndian.AppendUint32(nil, h.Sum32()))
		return nil
	})
}

// readJournalFile reads a journal file; any damage is an error.
func readJournalFile(path string) (*Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseJournal(path, data)
}

// parseJournal reads the contents of a journal file (path is for messages).
func parseJournal(path string, data []byte) (*Journal, error) {
	if len(data) < len(journalMagic)+8 || string(data[:len(journalMagic)]) != journalMagic {
		return nil, fmt.Errorf("%s: not a tapdns journal", path)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%s: checksum mismatch (damaged)", path)
	}
	var a arena
	off := len(journalMagic)
	n := binary.BigEndian.Uint32(body[off:])
	off += 4
	var j *Journal
	var err error
	readOne := func() (RR, error) {
		var rr RR
		next, err := readRR(body, off, &rr, &a, false)
		if err != nil {
			return RR{}, err
		}
		off = next
		return rr, nil
	}
	for i := uint32(0); i < n; i++ {
		d := &Diff{}
		if d.OldSOA, err = readOne(); err != nil {
			return nil, fmt.Errorf("%s: difference %d: %w", path, i+1, err)
		}
		if d.NewSOA, err = readOne(); err != nil {
			return nil, fmt.Errorf("%s: difference %d: %w", path, i+1, err)
		}
		for _, l := range []*[]RR{&d.Del, &d.Add} {
			if off+4 > len(body) {
				return nil, fmt.Errorf("%s: difference %d: truncated", path, i+1)
			}
			k := binary.BigEndian.Uint32(body[off:])
			off += 4
			if int(k) > len(body)-off {
				return nil, fmt.Errorf("%s: difference %d: bad count", path, i+1)
			}
			for ; k > 0; k-- {
				rr, err := readOne()
				if err != nil {
					return nil, fmt.Errorf("%s: difference %d: %w", path, i+1, err)
				}
				*l = append(*l, rr)
			}
		}
		if d.OldSOA.Type != dnswire.TypeSOA || d.NewSOA.Type != dnswire.TypeSOA {
			return nil, fmt.Errorf("%s: difference %d: no SOA", path, i+1)
		}
		j = j.With(d, int(n), 1<<62)
	}
	if off != len(body) {
		return nil, fmt.Errorf("%s: %d octets of trailing data", path, len(body)-off)
	}
	return j, nil
}

func writeMetaFile(path string, m stateMeta) error {
	return writeAtomic(path, func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
}

func readMetaFile(path string) (stateMeta, error) {
	var m stateMeta
	data, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// savedZone is what the state directory held for a zone at start.
type savedZone struct {
	z       *zone.Zone
	journal *Journal
	meta    stateMeta
	metaOK  bool
}

// loadState loads a zone's state files. It returns nil and no error when
// there is no zone file; a zone file that fails to load is an error (the
// caller logs it and starts the zone empty). A damaged journal or meta
// file only loses the journal or the refresh time.
func loadState(dir string, origin []byte) (*savedZone, []error) {
	base := stateBase(dir, origin)
	if _, err := os.Stat(base + ".zone"); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	z, err := zone.LoadFile(base + ".zone")
	if err != nil {
		return nil, []error{err}
	}
	if z.Origin != string(origin) {
		return nil, []error{fmt.Errorf("%s.zone holds zone %s, not %s", base, nameText([]byte(z.Origin)), nameText(origin))}
	}
	sz := &savedZone{z: z}
	var warns []error
	if j, err := readJournalFile(base + ".journal"); err == nil {
		if s, ok := j.Serial(); ok && s == z.Serial {
			sz.journal = j
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		warns = append(warns, err)
	}
	if m, err := readMetaFile(base + ".meta"); err == nil {
		sz.meta, sz.metaOK = m, m.Serial == z.Serial
	} else if !errors.Is(err, os.ErrNotExist) {
		warns = append(warns, err)
	}
	return sz, warns
}

// LoadSaved loads the zone saved for origin in the state directory dir,
// with the checks of a zone file (tapdns check). It returns nil and no
// error when nothing is saved.
func LoadSaved(dir string, origin []byte) (*zone.Zone, error) {
	saved, errs := loadState(dir, origin)
	if saved == nil && len(errs) > 0 {
		return nil, errs[0]
	}
	if saved == nil {
		return nil, nil
	}
	return saved.z, errors.Join(errs...)
}

// removeState deletes a zone's state files (a member left its catalog).
func removeState(dir string, origin []byte) {
	base := stateBase(dir, origin)
	for _, ext := range []string{".zone", ".journal", ".meta"} {
		os.Remove(base + ext)
	}
}
