package zone

import "hash/maphash"

// The name index is an open-addressing hash table with linear probing. A
// slot holds 1 + the index of a node in Zone.nodes, or 0 when empty. The
// table has a power-of-two size and is at most half full, so a miss (which
// every NXDOMAIN lookup has) ends after a couple of probes. Compared with
// a map[string]*Node it costs 4 to 8 bytes per name instead of about 40,
// and it needs no per-name key allocation.

// find returns the index of the node named name, or -1.
func (z *Zone) find(name []byte) int {
	if len(z.table) == 0 {
		return -1
	}
	mask := uint64(len(z.table) - 1)
	i := maphash.Bytes(z.seed, name) & mask
	for {
		s := z.table[i]
		if s == 0 {
			return -1
		}
		if n := &z.nodes[s-1]; n.Name == string(name) {
			return int(s - 1)
		}
		i = (i + 1) & mask
	}
}

// tableSize returns the table size for n entries: a power of two at
// least 2n.
func tableSize(n int) int {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return size
}
