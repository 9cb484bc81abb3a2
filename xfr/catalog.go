package xfr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// member is one member zone of a catalog (RFC 9432 section 4.1).
type member struct {
	id   string // the unique label under zones.<catalog>, lower case
	zone []byte // canonical
}

// catalogVersion is the schema version we consume (RFC 9432 section 4.2).
const catalogVersion = "2"

// parseCatalog reads the members of a catalog zone. notes are the things
// it ignored (unknown properties and records, broken members), for the
// log; err means the catalog as a whole cannot be used (a missing or
// unsupported version), and the membership must not change.
func parseCatalog(z *zone.Zone) (members []member, notes []string, err error) {
	origin := []byte(z.Origin)
	var versions []string
	ptrs := map[string][][]byte{} // id -> member names
	var ids []string
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		rel := relLabels(owner, origin)
		rr := RR{Owner: owner, Type: typ, Class: dnswire.ClassIN, TTL: ttl, Rdata: rdata}
		switch {
		case len(rel) == 0:
			if typ != dnswire.TypeSOA && typ != dnswire.TypeNS {
				notes = append(notes, "ignored record at the apex: "+rrText(&rr))
			}
		case len(rel) == 1 && rel[0] == "version":
			if typ == dnswire.TypeTXT {
				versions = append(versions, txtText(rdata))
			} else {
				notes = append(notes, "ignored record: "+rrText(&rr))
			}
		case rel[len(rel)-1] == "ext":
			// Custom properties of the catalog (RFC 9432 4.4): none known.
			notes = append(notes, "ignored custom property: "+rrText(&rr))
		case rel[len(rel)-1] == "zones" && len(rel) == 2:
			id := rel[0]
			if typ != dnswire.TypePTR {
				notes = append(notes, "ignored record: "+rrText(&rr))
				return true
			}
			if _, ok := ptrs[id]; !ok {
				ids = append(ids, id)
			}
			name := make([]byte, len(rdata))
			copy(name, rdata)
			lowerName(name)
			ptrs[id] = append(ptrs[id], name)
		case rel[len(rel)-1] == "zones" && len(rel) >= 3:
			switch prop := rel[len(rel)-3]; {
			case len(rel) == 3 && (prop == "group" || prop == "coo"):
				// RFC 9432 5.1 and 5.2: groups select configuration we do
				// not have; a change of ownership needs no action from a
				// consumer of one catalog.
				notes = append(notes, fmt.Sprintf("%s property of member %s not used: %s", prop, rel[1], rrText(&rr)))
			case prop == "ext" || (len(rel) > 3 && rel[len(rel)-4] == "ext"):
				notes = append(notes, "ignored custom property: "+rrText(&rr))
			default:
				notes = append(notes, "ignored unknown property: "+rrText(&rr))
			}
		default:
			notes = append(notes, "ignored record: "+rrText(&rr))
		}
		return true
	})
	switch {
	case len(versions) == 0:
		return nil, notes, fmt.Errorf("catalog %s has no version.%s TXT record", nameText(origin), nameText(origin))
	case len(versions) > 1 || versions[0] != catalogVersion:
		return nil, notes, fmt.Errorf("catalog %s: unsupported schema version %q (want %q)", nameText(origin), strings.Join(versions, `", "`), catalogVersion)
	}
	seen := map[string]string{}
	for _, id := range ids {
		names := ptrs[id]
		if len(names) != 1 {
			notes = append(notes, fmt.Sprintf("member %s has %d PTR records; ignored (RFC 9432 4.1)", id, len(names)))
			continue
		}
		if dnswire.NameLen(names[0]) != len(names[0]) {
			notes = append(notes, fmt.Sprintf("member %s: bad PTR target", id))
			continue
		}
		if other, dup := seen[string(names[0])]; dup {
			notes = append(notes, fmt.Sprintf("member zone %s listed twice (%s, %s); the second is ignored", nameText(names[0]), other, id))
			continue
		}
		seen[string(names[0])] = id
		members = append(members, member{id: id, zone: names[0]})
	}
	return members, notes, nil
}

// relLabels returns the labels of owner above origin, leftmost first,
// lower case (owner is canonical).
func relLabels(owner, origin []byte) []string {
	var out []string
	for i := 0; i < len(owner)-len(origin); i += 1 + int(owner[i]) {
		out = append(out, string(owner[i+1:i+1+int(owner[i])]))
	}
	return out
}

// txtText joins a TXT record's strings.
func txtText(rdata []byte) string {
	var b strings.Builder
	for len(rdata) > 0 {
		n := int(rdata[0])
		if 1+n > len(rdata) {
			break
		}
		b.Write(rdata[1 : 1+n])
		rdata = rdata[1+n:]
	}
	return b.String()
}

// reconcileCatalog makes the catalog's member zones the secondaries it
// lists: new members are added (pulled from the catalog's primary with
// its key), members no longer listed removed, members whose unique label
// changed reset (RFC 9432 5.4).
func (s *Service) reconcileCatalog(cat *secondary, z *zone.Zone) {
	members, notes, err := parseCatalog(z)
	for _, n := range notes {
		s.log.Info("catalog", "catalog", cat.name(), "serial", z.Serial, "note", n)
	}
	if err != nil {
		s.log.Error("catalog not applied; its members stay as they were", "catalog", cat.name(), "serial", z.Serial, "err", err)
		return
	}
	want := map[string]member{}
	for _, m := range members {
		want[string(m.zone)] = m
	}
	var remove []*secondary
	var add []member
	s.mu.Lock()
	for origin, sec := range s.secondaries {
		if string(sec.catalog) != z.Origin {
			continue
		}
		if m, ok := want[origin]; !ok || m.id != sec.catalogID {
			remove = append(remove, sec)
		}
	}
	for _, m := range members {
		sec := s.secondaries[string(m.zone)]
		switch {
		case sec != nil && string(sec.catalog) == z.Origin && sec.catalogID == m.id:
			// unchanged
		case sec != nil && string(sec.catalog) != z.Origin:
			s.log.Warn("catalog member is configured elsewhere; ignored", "catalog", cat.name(), "zone", nameText(m.zone))
		default:
			if _, primary := s.primaries[string(m.zone)]; primary {
				s.log.Warn("catalog member is a --zone of ours; ignored", "catalog", cat.name(), "zone", nameText(m.zone))
				continue
			}
			add = append(add, m)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(remove, func(a, b *secondary) int { return compareNames(a.origin, b.origin) })
	for _, sec := range remove {
		s.log.Info("catalog member removed", "catalog", cat.name(), "zone", sec.name(), "id", sec.catalogID)
		s.removeSecondary(sec)
	}
	for _, m := range add {
		s.log.Info("catalog member added", "catalog", cat.name(), "zone", nameText(m.zone), "id", m.id)
		r := Remote{Zone: m.zone, Addr: cat.remote.Addr, Key: cat.remote.Key}
		s.addSecondary(r, RoleSecondary, []byte(z.Origin), m.id)
	}
}
