package zone

import "hash/maphash"

// The name index is an open-addressing hash table with linear probing. A
// slot holds 1 + the index of a node in Zone.nodes in its low 24 bits, and
// the top 8 bits of the name's hash above them, so that most probes of
// other names are rejected without touching the node; 0 is empty. The
// table is at most 70% full and maps a hash to a slot by multiplication
// (no power-of-two size), so it costs under 6 bytes per name, against
// about 40 for a map[string]*Node, and needs no per-name key allocation.
// Probes are sequential 4-byte slots, mostly in one cache line.

// find returns the index of the node named name, or -1.
func (z *Zone) find(name []byte) int {
	if len(z.table) == 0 {
		return -1
	}
	h := maphash.Bytes(z.seed, name)
	tag := slotTag(h)
	for i := slotStart(h, len(z.table)); ; {
		s := z.table[i]
		if s == 0 {
			return -1
		}
		if s&^slotIndex == tag && z.nodes[s&slotIndex-1].Name == string(name) {
			return int(s&slotIndex - 1)
		}
		if i++; i == len(z.table) {
			i = 0
		}
	}
}

// slotStart maps a hash to the first slot to probe in a table of size n.
func slotStart(h uint64, n int) int {
	return int(uint64(uint32(h)) * uint64(n) >> 32)
}

// buildTable returns the final index of the zone's nodes.
func (z *Zone) buildTable() {
	z.table = make([]uint32, len(z.nodes)*10/7+8)
	for n := range z.nodes {
		h := maphash.String(z.seed, z.nodes[n].Name)
		i := slotStart(h, len(z.table))
		for z.table[i] != 0 {
			if i++; i == len(z.table) {
				i = 0
			}
		}
		z.table[i] = slotTag(h) | uint32(n+1)
	}
}

// slotIndex masks the node part of a slot; a zone has fewer nodes.
const slotIndex = 1<<24 - 1

// slotTag is the hash part of a slot.
func slotTag(h uint64) uint32 { return uint32(h>>56) << 24 }
