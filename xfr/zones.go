package xfr

import (
	"fmt"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// soaOf returns the SOA record of a zone.
func soaOf(z *zone.Zone) RR {
	rs := z.Apex.RRset(dnswire.TypeSOA)
	rr := RR{Owner: []byte(z.Origin), Type: dnswire.TypeSOA, Class: dnswire.ClassIN, TTL: rs.TTL}
	rs.Records(func(rd []byte) bool { rr.Rdata = rd; return false })
	return rr
}

// zoneRecords returns the records of z other than the SOA, sorted with
// compareRR. The records alias the zone's storage except the owners,
// which are copied into a.
func zoneRecords(z *zone.Zone, a *arena) []RR {
	rrs := make([]RR, 0, z.Records())
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		if typ != dnswire.TypeSOA {
			rrs = append(rrs, RR{Owner: a.copy(owner), Type: typ, Class: dnswire.ClassIN, TTL: ttl, Rdata: rdata})
		}
		return true
	})
	sortRRs(rrs)
	return rrs
}

// buildZone compiles a zone from its SOA record and other records (the
// lists are concatenated), with the checks of a zone file. file names the
// zone in messages.
func buildZone(origin []byte, file string, soa RR, lists ...[]RR) (*zone.Zone, error) {
	b := zone.NewBuilder(origin, file)
	if err := b.Add(soa.Owner, soa.Type, soa.Class, soa.TTL, soa.Rdata); err != nil {
		return nil, err
	}
	for _, l := range lists {
		for i := range l {
			rr := &l[i]
			if rr.Type == dnswire.TypeSOA {
				return nil, fmt.Errorf("zone %s: a second SOA record at %s", nameText(origin), nameText(rr.Owner))
			}
			if err := b.Add(rr.Owner, rr.Type, rr.Class, rr.TTL, rr.Rdata); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// applyDiffs returns the zone that results from applying diffs in order
// to z. Deleting a record that is not there is an error (the two sides'
// histories disagree: the caller falls back to AXFR); adding a record
// that is there already replaces it (its TTL may change).
func applyDiffs(z *zone.Zone, file string, diffs []*Diff) (*zone.Zone, error) {
	if len(diffs) == 0 {
		return z, nil
	}
	// The net effect of the sequence on each record touched: whether the
	// version in z must be there to be deleted (del), and the version
	// present at the end (add, nil for none).
	type change struct {
		del, seen bool
		add       *RR
		first     *RR // the record as first met, for messages
	}
	net := make(map[string]*change)
	var order []*change // deterministic order of additions
	var key []byte
	serial := z.Serial
	for _, d := range diffs {
		if d.From() != serial {
			return nil, fmt.Errorf("difference from serial %d does not apply to serial %d", d.From(), serial)
		}
		for i := range d.Del {
			rr := &d.Del[i]
			key = rrKey(key[:0], rr.Owner, rr.Type, rr.Rdata)
			switch c := net[string(key)]; {
			case c == nil:
				c = &change{del: true, first: rr}
				net[string(key)] = c
				order = append(order, c)
			case c.add != nil:
				c.add = nil
			default:
				return nil, fmt.Errorf("serial %d to %d deletes %s, which an earlier difference deleted", d.From(), d.To(), rrText(rr))
			}
		}
		for i := range d.Add {
			rr := &d.Add[i]
			key = rrKey(key[:0], rr.Owner, rr.Type, rr.Rdata)
			if c := net[string(key)]; c != nil {
				c.add = rr
			} else {
				c = &change{add: rr, first: rr}
				net[string(key)] = c
				order = append(order, c)
			}
		}
		serial = d.To()
	}
	soa := diffs[len(diffs)-1].NewSOA
	b := zone.NewBuilder([]byte(z.Origin), file)
	if err := b.Add(soa.Owner, soa.Type, soa.Class, soa.TTL, soa.Rdata); err != nil {
		return nil, err
	}
	var err error
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		if typ == dnswire.TypeSOA {
			return true
		}
		key = rrKey(key[:0], owner, typ, rdata)
		if c := net[string(key)]; c != nil {
			c.seen = true // replaced by c.add, if any, below
			return true
		}
		err = b.Add(owner, typ, dnswire.ClassIN, ttl, rdata)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range order {
		if c.del && !c.seen {
			return nil, fmt.Errorf("serial %d: cannot delete %s: not in the zone", z.Serial, rrText(c.first))
		}
		if c.add != nil {
			if err := b.Add(c.add.Owner, c.add.Type, c.add.Class, c.add.TTL, c.add.Rdata); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// zoneDiff computes the difference between two versions of a zone.
func zoneDiff(old, new *zone.Zone) *Diff {
	var a arena
	del, add := diffRRs(zoneRecords(old, &a), zoneRecords(new, &a))
	return &Diff{OldSOA: soaOf(old), NewSOA: soaOf(new), Del: del, Add: add}
}
