package zone

import "crypto/sha1"

// DNSSEC for pre-signed zones. A zone is signed when its apex holds RRSIG
// records. Its records are kept exactly as the file gives them; on top of
// them the compile step builds, for a signed zone only:
//
//   - the NSEC chain: the nodes that own an NSEC RRset, in canonical order
//     (RFC 4034 6.1), to find the NSEC record that covers a name;
//   - the NSEC3 chain: the nodes that own NSEC3 records of the chain that
//     NSEC3PARAM names, ordered by hash, to find the record that matches
//     or covers the hash of a name (RFC 5155 7.2). These nodes are marked
//     flagNSEC3: their owner names are not names of the zone, so lookups
//     treat them as absent (a query for one is NXDOMAIN, and a wildcard
//     covers it).
//
// RRSIG records stay one RRset per owner, as in the file. Which record
// covers which type is in the record itself; the responder picks the
// records covering the RRset it writes and gives them that RRset's TTL
// (RFC 4034 3: an RRSIG's TTL is that of the RRset it covers).
//
// Loading checks the signatures' validity periods, both chains, and that
// every authoritative RRset is signed; problems are warnings (see
// Zone.Warnings), never errors: the zone is served as signed.

// dnssec holds the indexes of a signed zone.
type dnssec struct {
	// nsec lists the nodes that own an NSEC RRset, in canonical order.
	nsec []uint32
	// nsec3 lists the nodes of the NSEC3 chain, by hash (their first
	// labels, base32hex, sort like the hashes), and the chain's parameters.
	nsec3      []uint32
	hashAlg    uint8
	iterations uint16
	salt       []byte
}

// Signed reports whether the zone is signed (its apex holds RRSIG
// records). Only a signed zone answers DNSSEC-aware queries with
// signatures and proofs.
func (z *Zone) Signed() bool { return z.sec != nil }

// NSEC3 reports whether the signed zone denies existence with NSEC3 (it has
// an NSEC3 chain); false for NSEC and for unsigned zones.
func (z *Zone) NSEC3() bool { return z.sec != nil && len(z.sec.nsec3) > 0 }

// SigTTL returns the TTL of the RRSIG record rdata at node n: the TTL of
// the RRset at n that it covers (RFC 4034 3 requires them equal; the
// zone keeps one TTL per RRset, so the RRSIG RRset's own TTL is that of
// its first record), or def when n has no RRset of the covered type.
// Zone transfers and queries of type RRSIG give each RRSIG this TTL.
func (n *Node) SigTTL(rdata []byte, def uint32) uint32 {
	if len(rdata) >= 2 {
		if rs := n.RRset(uint16(rdata[0])<<8 | uint16(rdata[1])); rs != nil {
			return rs.TTL
		}
	}
	return def
}

// NSECCover returns the node whose NSEC record matches the canonical
// wire-format name (a node of that name with an NSEC RRset) or covers it
// (the last NSEC owner before it in canonical order; the chain wraps
// around), or nil when the zone has no NSEC chain. It does not allocate.
func (z *Zone) NSECCover(name []byte) *Node {
	if z.sec == nil || len(z.sec.nsec) == 0 {
		return nil
	}
	nsec := z.sec.nsec
	// The first owner after name (sort.Search by hand: a generic search
	// would let name escape); the one before it covers name.
	lo, hi := 0, len(nsec)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareNames(z.nodes[nsec[mid]].Name, name) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		lo = len(nsec)
	}
	return &z.nodes[nsec[lo-1]]
}

// NSEC3Find hashes the canonical wire-format name with the zone's NSEC3
// parameters and returns the node of the NSEC3 chain whose hash matches it
// (exact true) or covers it (the last hash before it; the chain wraps
// around). It returns nil when the zone has no NSEC3 chain. It does not
// allocate.
func (z *Zone) NSEC3Find(name []byte) (n *Node, exact bool) {
	if !z.NSEC3() {
		return nil, false
	}
	var h [sha1.Size]byte
	nsec3Hash(&h, name, z.sec.salt, z.sec.iterations)
	var label [32]byte
	enc := label[:encodeBase32Hex(label[:], h[:])]
	chain := z.sec.nsec3
	// The first hash at or after h; the one before it covers h.
	lo, hi := 0, len(chain)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareLabel(z.nodes[chain[mid]].Name, enc) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(chain) && compareLabel(z.nodes[chain[lo]].Name, enc) == 0 {
		return &z.nodes[chain[lo]], true
	}
	if lo == 0 {
		lo = len(chain)
	}
	return &z.nodes[chain[lo-1]], false
}

// compareLabel compares the first label of the wire name with l.
func compareLabel(name string, l []byte) int {
	n := int(name[0])
	for k := 0; k < min(n, len(l)); k++ {
		if x, y := name[1+k], l[k]; x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return n - len(l)
}

// nsec3Hash writes the RFC 5155 hash (SHA-1, the only algorithm defined)
// of the canonical wire name with salt and iterations into h.
func nsec3Hash(h *[sha1.Size]byte, name, salt []byte, iterations uint16) {
	var buf [255 + 255]byte // a name and a salt, or a hash and a salt
	n := copy(buf[:], name)
	n += copy(buf[n:], salt)
	*h = sha1.Sum(buf[:n])
	for range iterations {
		n = copy(buf[:], h[:])
		n += copy(buf[n:], salt)
		*h = sha1.Sum(buf[:n])
	}
}

const base32Hex = "0123456789abcdefghijklmnopqrstuv"

// encodeBase32Hex writes the lower-case, unpadded base32hex encoding
// (RFC 4648 7) of src into dst, which must hold (8*len(src)+4)/5 bytes,
// and returns its length. The encoding sorts like src.
func encodeBase32Hex(dst, src []byte) int {
	var acc uint64
	bits, n := 0, 0
	for _, c := range src {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			dst[n] = base32Hex[acc>>uint(bits)&31]
			n++
		}
	}
	if bits > 0 {
		dst[n] = base32Hex[acc<<uint(5-bits)&31]
		n++
	}
	return n
}

// compareNames compares two canonical (lower-case) wire names in the
// canonical order of RFC 4034 6.1: label by label from the root, each label
// as a string of octets, absent labels first.
func compareNames[A, B ~string | ~[]byte](a A, b B) int {
	var as, bs [128]uint8
	na, nb := labelStarts(a, &as), labelStarts(b, &bs)
	for i, j := na-1, nb-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		pa, pb := int(as[i]), int(bs[j])
		la, lb := int(a[pa]), int(b[pb])
		for k := 1; k <= min(la, lb); k++ {
			if x, y := a[pa+k], b[pb+k]; x != y {
				if x < y {
					return -1
				}
				return 1
			}
		}
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
	}
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return 0
}

// labelStarts writes the offsets of the non-root labels of the wire name
// into starts and returns their number.
func labelStarts[A ~string | ~[]byte](name A, starts *[128]uint8) int {
	n := 0
	for i := 0; i < len(name) && name[i] != 0 && n < len(starts); i += 1 + int(name[i]) {
		starts[n] = uint8(i)
		n++
	}
	return n
}
