package zone

import (
	"fmt"
	"sort"
)

// Query types with special rules in Lookup.
const (
	typeCNAME uint16 = 5
	typeDS    uint16 = 43
	typeANY   uint16 = 255
)

// NewSet builds a set of zones. Zones must have distinct origins; nil zones
// are an error.
func NewSet(zones ...*Zone) (*Set, error) {
	s := &Set{zones: make(map[string]*Zone, len(zones))}
	for i, z := range zones {
		if z == nil {
			return nil, fmt.Errorf("zone set: zone %d is nil", i)
		}
		if old, ok := s.zones[z.Origin]; ok {
			return nil, fmt.Errorf("zone set: zone %s defined twice, in %s and in %s",
				nameText(z.Origin), fileText(old.File), fileText(z.File))
		}
		if len(z.Origin) == 0 || len(z.Origin) > 255 {
			return nil, fmt.Errorf("zone set: zone %d (%s) has no valid origin", i, fileText(z.File))
		}
		s.zones[z.Origin] = z
		s.list = append(s.list, z)
		if s.byLen[len(z.Origin)] == nil {
			s.byLen[len(z.Origin)] = z
		} else {
			s.shared[len(z.Origin)] = true
		}
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].Origin < s.list[j].Origin })
	return s, nil
}

func fileText(f string) string {
	if f == "" {
		return "(input)"
	}
	return f
}

// Zone returns the most specific zone of the set containing the canonical
// wire-format name, or nil (also for a malformed name). It does not
// allocate.
func (s *Set) Zone(name []byte) *Zone {
	if s == nil || len(s.zones) == 0 || !validName(name) {
		return nil
	}
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if z := s.zoneAt(name[i:]); z != nil {
			return z
		}
		if name[i] == 0 {
			break
		}
	}
	return nil
}

// zoneAt returns the zone whose origin is exactly suffix, or nil.
func (s *Set) zoneAt(suffix []byte) *Zone {
	if s.shared[len(suffix)] {
		return s.zones[string(suffix)]
	}
	if z := s.byLen[len(suffix)]; z != nil && z.Origin == string(suffix) {
		return z
	}
	return nil
}

// Lookup finds the answer to a query for the canonical wire-format name and
// query type (see Match and Result). It does not allocate, and it treats a
// malformed name as one that is in no zone.
//
// The most specific zone containing name answers, except that a DS query
// for a zone's apex goes to the parent zone when the set has it (RFC 4035
// section 3.1.4.1).
func (s *Set) Lookup(name []byte, qtype uint16) Match {
	if s == nil || len(s.zones) == 0 || !validName(name) {
		return Match{}
	}
	var z *Zone
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if c := s.zoneAt(name[i:]); c != nil {
			if z != nil {
				return c.lookup(name, qtype) // the parent, for DS at z's apex
			}
			z = c
			if qtype != typeDS || i != 0 {
				break
			}
		}
		if name[i] == 0 {
			break
		}
	}
	if z == nil {
		return Match{}
	}
	return z.lookup(name, qtype)
}

// validName reports whether name is a well-formed uncompressed wire name
// of at most 255 bytes.
func validName(name []byte) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); {
		l := int(name[i])
		switch {
		case l == 0:
			return i == len(name)-1
		case l > 63:
			return false
		}
		i += 1 + l
	}
	return false
}

// lookup answers for a name at or below z.Origin.
func (z *Zone) lookup(name []byte, qtype uint16) Match {
	// NSEC3 owner names are not in the zone: lookups go past them. They
	// have no descendants (see dnssec.go), so the walk to the closest
	// encloser below never meets one.
	if i := z.find(name); i >= 0 && z.flags[i]&flagNSEC3 == 0 {
		if z.flags[i]&flagCut != 0 {
			return z.cut(name, qtype)
		}
		return answer(z, &z.nodes[i], qtype, false)
	}
	// No such node: find the closest encloser. Every ancestor of a node
	// exists (empty non-terminals are nodes), so the first existing
	// ancestor is the closest encloser.
	ce := -1
	for p := name; len(p) > len(z.Origin); {
		p = p[1+int(p[0]):]
		if ce = z.find(p); ce >= 0 {
			break
		}
	}
	if ce < 0 {
		return Match{Result: NXDomain, Zone: z} // unreachable for a name in the zone
	}
	if z.flags[ce]&flagCut != 0 {
		return z.cut(name, qtype)
	}
	var buf [2 + 255]byte
	buf[0], buf[1] = 1, '*'
	n := copy(buf[2:], z.nodes[ce].Name)
	w := z.find(buf[:2+n])
	if w < 0 {
		return Match{Result: NXDomain, Zone: z}
	}
	if z.nodes[w].Cut {
		// A wildcard owning NS (RFC 4592 section 4.2 leaves this
		// undefined): refer, like NSD.
		return Match{Result: Delegation, Zone: z, Node: &z.nodes[w], Wildcard: true}
	}
	return answer(z, &z.nodes[w], qtype, true)
}

// cut answers for a name at or below a zone cut: a referral to the highest
// cut, except DS at the cut itself, which the parent side answers.
func (z *Zone) cut(name []byte, qtype uint16) Match {
	// Label starts of name, to walk down from the apex.
	var starts [128]uint8
	k := 0
	for i := 0; i < len(name)-len(z.Origin); i += 1 + int(name[i]) {
		starts[k] = uint8(i)
		k++
	}
	for k--; k >= 0; k-- {
		i := z.find(name[starts[k]:])
		if i < 0 {
			break
		}
		n := &z.nodes[i]
		if !n.Cut {
			continue
		}
		if k == 0 && qtype == typeDS {
			if ds := n.RRset(typeDS); ds != nil {
				return Match{Result: Success, Zone: z, Node: n, Answer: ds}
			}
			return Match{Result: NoData, Zone: z, Node: n}
		}
		return Match{Result: Delegation, Zone: z, Node: n}
	}
	return Match{Result: NXDomain, Zone: z} // unreachable: flagCut means a cut above
}

// answer answers from node n, which is the query name itself or the
// wildcard that covers it.
func answer(z *Zone, n *Node, qtype uint16, wild bool) Match {
	m := Match{Zone: z, Node: n, Wildcard: wild}
	switch {
	case qtype == typeANY:
		if len(n.RRsets) > 0 {
			m.Result = Success
		} else {
			m.Result = NoData
		}
	case n.RRset(qtype) != nil:
		m.Result, m.Answer = Success, n.RRset(qtype)
	case qtype != typeCNAME && n.RRset(typeCNAME) != nil:
		m.Result, m.Answer, m.CNAME = Success, n.RRset(typeCNAME), true
	default:
		m.Result = NoData
	}
	return m
}
