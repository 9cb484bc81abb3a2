package mdns

import (
	"slices"
	"sync"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// The gateway's cache of records heard on the link. It is short: records
// live at most maxCacheTTL whatever their TTL, since the link announces
// changes and a unicast client should not be told stale data for long.
const (
	maxCacheRecords = 4096
	maxCacheTTL     = 120 * time.Second
	sweepEvery      = 10 * time.Second
)

// centry is one cached record.
type centry struct {
	name    []byte // canonical owner
	typ     uint16
	data    []byte
	recv    time.Time
	expires time.Time
	unique  bool // came with the cache-flush bit
}

// cache maps canonical owner names to their records. Run's goroutine adds;
// Answer's callers read. Both hold mu briefly.
type cache struct {
	mu    sync.Mutex
	names map[string][]centry
	n     int    // records held
	full  uint64 // records not cached because the cache was full
}

func (c *cache) init() { c.names = make(map[string][]centry) }

// add caches the answer and additional records of a response: goodbyes
// (TTL 0) remove a record, and a record with the cache-flush bit expires
// the other records of its name, type and class that were received more
// than grace (a second) ago (RFC 6762 sections 10.1 and 10.2).
func (c *cache) add(m *Message, now time.Time, grace time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range m.Records {
		if i >= m.NAnswer && i < m.NAnswer+m.NAuthority {
			continue
		}
		k := &m.Records[i]
		if k.Class != dnswire.ClassIN || k.Type == dnswire.TypeOPT || k.Type == dnswire.TypeANY {
			continue
		}
		es := c.names[string(k.Name)]
		found := -1
		for j := range es {
			e := &es[j]
			if e.typ != k.Type {
				continue
			}
			if rdataEqual(k.Type, e.data, k.Data) {
				found = j
			} else if k.Flush && now.Sub(e.recv) > grace && e.expires.After(now.Add(grace)) {
				e.expires = now.Add(grace)
			}
		}
		life := min(time.Duration(k.TTL)*time.Second, maxCacheTTL)
		switch {
		case found >= 0 && k.TTL == 0:
			es = append(es[:found], es[found+1:]...)
			c.n--
			if len(es) == 0 {
				delete(c.names, string(k.Name))
				continue
			}
		case found >= 0:
			es[found].recv, es[found].expires, es[found].unique = now, now.Add(life), k.Flush
		case k.TTL == 0:
			continue
		case c.n >= maxCacheRecords:
			c.full++
			continue
		default:
			name := []byte(string(k.Name))
			if len(es) > 0 {
				name = es[0].name
			}
			es = append(es, centry{name: name, typ: k.Type, data: []byte(string(k.Data)), recv: now, expires: now.Add(life), unique: k.Flush})
			c.n++
		}
		c.names[string(k.Name)] = es
	}
}

// uniqueTypes adds to types those of the fresh records of name (canonical)
// that came with the cache-flush bit, NSEC aside, and returns it.
func (c *cache) uniqueTypes(name []byte, now time.Time, types []uint16) []uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.names[string(name)] {
		if e.unique && e.typ != dnswire.TypeNSEC && e.expires.After(now) && !slices.Contains(types, e.typ) {
			types = append(types, e.typ)
		}
	}
	return types
}

// sweep drops expired records.
func (c *cache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, es := range c.names {
		kept := es[:0]
		for _, e := range es {
			if e.expires.After(now) {
				kept = append(kept, e)
			}
		}
		c.n -= len(es) - len(kept)
		if len(kept) == 0 {
			delete(c.names, k)
		} else {
			c.names[k] = kept
		}
	}
}

// stats returns the records held and the records refused for room.
func (c *cache) stats() (n int, full uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.full
}
