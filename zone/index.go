package zone

import "hash/maphash"

// The name index is an open-addressing hash table with linear probing. A
// slot holds 1 + the index of a node in Zone.nodes in its low 24 bits, and
// the top 8 bits of the name's hash above them, so that most probes of
// other names are rejected without touching the node; 0 is empty. The
// table has a power-of-two size and is at most half full, so a miss (which
// every NXDOMAIN lookup has) ends after a couple of probes. Compared with
// a map[string]*Node it costs 4 to 8 bytes per name instead of about 40,
// and it needs no per-name key allocation.

// find returns the index of the node named name, or -1.
func (z *Zone) find(name []byte) int {
	if len(z.table) == 0 {
		return -1
	}
	h := maphash.Bytes(z.seed, name)
	mask, tag := uint64(len(z.table)-1), slotTag(h)
	i := h & mask
	for {
		s := z.table[i]
		if s == 0 {
			return -1
		}
		if s&^slotIndex == tag && z.nodes[s&slotIndex-1].Name == string(name) {
			return int(s&slotIndex - 1)
		}
		i = (i + 1) & mask
	}
}

// slotIndex masks the node part of a slot; a zone has fewer nodes.
const slotIndex = 1<<24 - 1

// slotTag is the hash part of a slot.
func slotTag(h uint64) uint32 { return uint32(h>>56) << 24 }
