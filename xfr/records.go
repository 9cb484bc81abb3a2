package xfr

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnswire"
)

// SOA holds the fields of an SOA record that transfers use.
type SOA struct {
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// parseSOA reads the timers of SOA rdata (two uncompressed names, then
// five 32-bit fields).
func parseSOA(rdata []byte) (SOA, bool) {
	n1 := dnswire.NameLen(rdata)
	if n1 < 0 {
		return SOA{}, false
	}
	n2 := dnswire.NameLen(rdata[n1:])
	if n2 < 0 || len(rdata) != n1+n2+20 {
		return SOA{}, false
	}
	f := rdata[n1+n2:]
	return SOA{Serial: u32(f), Refresh: u32(f[4:]), Retry: u32(f[8:]), Expire: u32(f[12:]), Minimum: u32(f[16:])}, true
}

// serialLess reports a < b in RFC 1982 serial number arithmetic (32 bits).
// Two serials 2^31 apart compare neither way.
func serialLess(a, b uint32) bool {
	return a != b && (b-a) < 1<<31
}

// ParseName converts a presentation-format domain name ("example.com",
// "example.com.", escapes allowed) to canonical wire format.
func ParseName(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty domain name")
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return nil, fmt.Errorf("%q is not a domain name", s)
	}
	buf := make([]byte, dnswire.MaxNameLen+1)
	n, err := dns.PackDomainName(dns.Fqdn(s), buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	w := buf[:n]
	lowerName(w)
	return w, nil
}

// lowerName lower-cases the ASCII letters of a wire-format name in place.
func lowerName(w []byte) {
	for i := 0; i < len(w) && w[i] != 0; i += 1 + int(w[i]) {
		for j := i + 1; j <= i+int(w[i]) && j < len(w); j++ {
			if c := w[j]; 'A' <= c && c <= 'Z' {
				w[j] = c + 'a' - 'A'
			}
		}
	}
}

// isSubdomain reports whether the canonical name is at or below parent.
func isSubdomain(name, parent []byte) bool {
	if len(name) < len(parent) || !bytes.Equal(name[len(name)-len(parent):], parent) {
		return false
	}
	// The suffix must start at a label boundary.
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if i == len(name)-len(parent) {
			return true
		}
		if name[i] == 0 {
			break
		}
	}
	return false
}

// labelStarts returns the offsets of the labels of a wire-format name
// (the root label excluded) in buf.
func labelStarts(name []byte, buf *[128]uint8) []uint8 {
	out := buf[:0]
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		out = append(out, uint8(i))
	}
	return out
}

// compareNames orders canonical wire-format names in the canonical DNS
// order of RFC 4034 section 6.1: label by label from the root, each
// label as an octet string.
func compareNames(a, b []byte) int {
	if bytes.Equal(a, b) {
		return 0
	}
	var ba, bb [128]uint8
	la, lb := labelStarts(a, &ba), labelStarts(b, &bb)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		x := a[la[i]+1 : int(la[i])+1+int(a[la[i]])]
		y := b[lb[j]+1 : int(lb[j])+1+int(b[lb[j]])]
		if c := bytes.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(la), len(lb))
}

// compareRR orders records by owner (canonical order), type, rdata and
// finally TTL, so that two sorted record lists merge into a difference.
func compareRR(a, b *RR) int {
	if c := compareNames(a.Owner, b.Owner); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Rdata, b.Rdata); c != 0 {
		return c
	}
	return cmp.Compare(a.TTL, b.TTL)
}

// sortRRs sorts records with compareRR.
func sortRRs(rrs []RR) {
	slices.SortFunc(rrs, func(a, b RR) int { return compareRR(&a, &b) })
}

// diffRRs returns the records of old missing from new (del) and those of
// new missing from old (add). Both must be sorted with compareRR; a TTL
// change is a deletion and an addition. The results alias the inputs.
func diffRRs(old, new []RR) (del, add []RR) {
	i, j := 0, 0
	for i < len(old) && j < len(new) {
		switch c := compareRR(&old[i], &new[j]); {
		case c < 0:
			del = append(del, old[i])
			i++
		case c > 0:
			add = append(add, new[j])
			j++
		default:
			i++
			j++
		}
	}
	del = append(del, old[i:]...)
	add = append(add, new[j:]...)
	return del, add
}

// rrKey appends the identity of a record for deletion matching: owner,
// type and rdata (not the TTL, which RFC 1995 deletions need not match).
func rrKey(dst []byte, owner []byte, typ uint16, rdata []byte) []byte {
	dst = append(dst, owner...)
	dst = append(dst, byte(typ>>8), byte(typ))
	return append(dst, rdata...)
}

// rrText renders a record in presentation format (miekg/dns's, which the
// zone file parser reads back) for zone files, logs and tests.
func rrText(rr *RR) string {
	r, _, err := dns.UnpackRR(packRR(nil, rr), 0)
	if err != nil || r == nil {
		return fmt.Sprintf("%s %d %s \\# %d %x", nameText(rr.Owner), rr.TTL, typeText(rr.Type), len(rr.Rdata), rr.Rdata)
	}
	return r.String()
}

// packRR appends rr in wire format, uncompressed.
func packRR(dst []byte, rr *RR) []byte {
	dst = append(dst, rr.Owner...)
	dst = append(dst, byte(rr.Type>>8), byte(rr.Type), byte(rr.Class>>8), byte(rr.Class),
		byte(rr.TTL>>24), byte(rr.TTL>>16), byte(rr.TTL>>8), byte(rr.TTL), byte(len(rr.Rdata)>>8), byte(len(rr.Rdata)))
	return append(dst, rr.Rdata...)
}
