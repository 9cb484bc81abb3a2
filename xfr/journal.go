package xfr

// Diff is the change from one version of a zone to the next: one
// difference sequence of an IXFR (RFC 1995 section 4). Its records are
// never modified once the Diff is in a Journal.
type Diff struct {
	// OldSOA and NewSOA are the SOA records of the two versions.
	OldSOA, NewSOA RR
	// Del and Add are the other records removed and added, SOA excluded.
	Del, Add []RR
}

// From returns the serial the difference starts from.
func (d *Diff) From() uint32 { s, _ := parseSOA(d.OldSOA.Rdata); return s.Serial }

// To returns the serial the difference leads to.
func (d *Diff) To() uint32 { s, _ := parseSOA(d.NewSOA.Rdata); return s.Serial }

// size approximates the difference's size on the wire (uncompressed).
func (d *Diff) size() int {
	n := 2 * (len(d.OldSOA.Owner) + 10 + len(d.OldSOA.Rdata))
	for _, l := range [2][]RR{d.Del, d.Add} {
		for i := range l {
			n += len(l[i].Owner) + 10 + len(l[i].Rdata)
		}
	}
	return n
}

// Journal limits, the defaults for Config.JournalDiffs and JournalBytes.
// NSD keeps 5 differences by default and Knot a journal of 80 MB per
// zone; a fleet's secondaries that miss more fall back to AXFR.
const (
	DefaultJournalDiffs = 100
	DefaultJournalBytes = 64 << 20
)

// Journal is a bounded sequence of consecutive differences of one zone,
// oldest first, the last leading to the zone's current serial. A Journal
// is immutable: With returns a new one, so transfers may read a journal
// while the zone moves on. A nil *Journal is empty.
type Journal struct {
	diffs []*Diff
	bytes int
}

// With returns the journal with d appended, keeping at most maxDiffs
// differences and maxBytes of them (the oldest go first; a single larger
// difference is kept alone). When d does not start where the journal ends
// the history is broken, and the new journal holds d only.
func (j *Journal) With(d *Diff, maxDiffs, maxBytes int) *Journal {
	if maxDiffs <= 0 {
		maxDiffs = DefaultJournalDiffs
	}
	if maxBytes <= 0 {
		maxBytes = DefaultJournalBytes
	}
	n := &Journal{}
	if j != nil && len(j.diffs) > 0 && j.diffs[len(j.diffs)-1].To() == d.From() {
		n.diffs = append(make([]*Diff, 0, len(j.diffs)+1), j.diffs...)
		n.bytes = j.bytes
	}
	n.diffs = append(n.diffs, d)
	n.bytes += d.size()
	for len(n.diffs) > 1 && (len(n.diffs) > maxDiffs || n.bytes > maxBytes) {
		n.bytes -= n.diffs[0].size()
		n.diffs = n.diffs[1:]
	}
	return n
}

// Since returns the differences leading from serial to the newest
// version, or nil when serial is not in the journal. The result must not
// be modified.
func (j *Journal) Since(serial uint32) []*Diff {
	if j == nil {
		return nil
	}
	for i, d := range j.diffs {
		if d.From() == serial {
			return j.diffs[i:]
		}
	}
	return nil
}

// Serial returns the serial the journal leads to; ok is false for an
// empty journal.
func (j *Journal) Serial() (serial uint32, ok bool) {
	if j == nil || len(j.diffs) == 0 {
		return 0, false
	}
	return j.diffs[len(j.diffs)-1].To(), true
}

// Len returns the number of differences held.
func (j *Journal) Len() int {
	if j == nil {
		return 0
	}
	return len(j.diffs)
}

// Diffs returns the differences held, oldest first. The result must not
// be modified.
func (j *Journal) Diffs() []*Diff {
	if j == nil {
		return nil
	}
	return j.diffs
}
