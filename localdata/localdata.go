// Package localdata holds the names an operator sets locally, ahead of
// everything else tapdns knows: --override NAME=ADDR, /etc/hosts-style
// files (--hosts) and block lists (--block). A Builder reads them; Build
// compiles them into an immutable Data whose lookups allocate nothing and
// whose answers are encoded once, so that the query path only copies them.
// A reload builds a new Data and swaps it in whole.
//
// What a lookup answers:
//   - A name with local addresses (an override, or a hosts entry) answers
//     A and AAAA from them, ANY with both, and NODATA for every other
//     type: the name is local, so nothing else is asked about it (as
//     Unbound's local-data does). An override replaces what the hosts
//     files say about its name.
//   - The reverse name (in-addr.arpa or ip6.arpa) of a hosts-file address
//     answers PTR with the first name given for that address.
//   - A blocked name, and every name below it, is Blocked (NXDOMAIN with
//     Extended DNS Error 15 in the server), unless it has local addresses.
package localdata

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/tapdns/tapdns/dnswire"
)

// TTL is the TTL of local answers (Unbound's default for local-data).
const TTL = 3600

// Result says what Lookup found.
type Result uint8

const (
	// Miss: nothing local about the name.
	Miss Result = iota
	// Answer: the entry's records answer the question.
	Answer
	// NoData: the name is local but has no records of the type.
	NoData
	// Blocked: the name or one of its parents is on a block list.
	Blocked
)

// String returns the result's name.
func (r Result) String() string {
	switch r {
	case Miss:
		return "miss"
	case Answer:
		return "answer"
	case NoData:
		return "nodata"
	case Blocked:
		return "blocked"
	}
	return "unknown"
}

// Records is an encoded answer section: resource records whose owner is a
// compression pointer to the question name at offset 12 (0xC00C), ready
// to be copied after a question. Data must not be modified.
type Records struct {
	Data  []byte
	Count uint16
}

// name is what Data keeps about one local name.
type name struct {
	a, aaaa, any, ptr Records
	hasPTR            bool
}

// Data is a compiled, immutable set of local names; nil means none. It is
// safe for concurrent use.
type Data struct {
	names   map[string]*name // canonical wire name -> records
	blocked map[string]struct{}
	// Counts, for logs and metrics.
	Names, Blocks int
}

// Lookup reports what local data says about the canonical (lower-case,
// uncompressed) wire name for qtype. For Answer the records are in recs;
// they alias Data. It does not allocate.
func (d *Data) Lookup(qname []byte, qtype uint16) (Result, Records) {
	if d == nil {
		return Miss, Records{}
	}
	if n := d.names[string(qname)]; n != nil {
		var r Records
		switch qtype {
		case dnswire.TypeA:
			r = n.a
		case dnswire.TypeAAAA:
			r = n.aaaa
		case dnswire.TypeANY:
			r = n.any
		case dnswire.TypePTR:
			r = n.ptr
		}
		if r.Count == 0 {
			return NoData, Records{}
		}
		return Answer, r
	}
	if len(d.blocked) == 0 {
		return Miss, Records{}
	}
	for i := 0; i < len(qname) && qname[i] != 0; i += 1 + int(qname[i]) {
		if _, ok := d.blocked[string(qname[i:])]; ok {
			return Blocked, Records{}
		}
	}
	return Miss, Records{}
}

// Builder collects local data. The zero value is ready to use.
type Builder struct {
	overrides map[string][]netip.Addr // name -> addresses, in order
	hosts     map[string][]netip.Addr
	order     []string              // names in the order first seen
	ptrs      map[netip.Addr]string // address -> first hosts name
	blocked   map[string]struct{}
}

func (b *Builder) init() {
	if b.overrides == nil {
		b.overrides = make(map[string][]netip.Addr)
		b.hosts = make(map[string][]netip.Addr)
		b.ptrs = make(map[netip.Addr]string)
		b.blocked = make(map[string]struct{})
	}
}

// AddOverride adds the --override NAME=ADDR flag's value s.
func (b *Builder) AddOverride(s string) error {
	b.init()
	n, a, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("--override %q: want NAME=ADDR", s)
	}
	wire, err := parseName(n)
	if err != nil {
		return fmt.Errorf("--override %q: %w", s, err)
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(a))
	if err != nil || addr.Zone() != "" {
		return fmt.Errorf("--override %q: %q is not an IPv4 or IPv6 address", s, a)
	}
	b.addAddr(b.overrides, wire, addr.Unmap())
	return nil
}

func (b *Builder) addAddr(m map[string][]netip.Addr, wire string, a netip.Addr) {
	if _, seen := b.overrides[wire]; !seen {
		if _, seen := b.hosts[wire]; !seen {
			b.order = append(b.order, wire)
		}
	}
	if !slices.Contains(m[wire], a) {
		m[wire] = append(m[wire], a)
	}
}

// AddHostsFile reads a hosts file (hosts(5): an address, then a canonical
// name and aliases; # starts a comment).
func (b *Builder) AddHostsFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--hosts: %w", err)
	}
	defer f.Close()
	return b.AddHosts(f, path)
}

// AddHosts reads hosts-file text from r; file names it in errors.
func (b *Builder) AddHosts(r io.Reader, file string) error {
	b.init()
	return eachLine(r, file, func(fields []string) error {
		if len(fields) < 2 {
			return errors.New("want an address and at least one name")
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			return fmt.Errorf("%q is not an IPv4 or IPv6 address", fields[0])
		}
		if addr.Zone() != "" {
			// fe80::1%eth0: an address of one interface, not ours to answer.
			return nil
		}
		addr = addr.Unmap()
		for i, n := range fields[1:] {
			wire, err := parseName(n)
			if err != nil {
				return fmt.Errorf("name %q: %w", n, err)
			}
			b.addAddr(b.hosts, wire, addr)
			if _, ok := b.ptrs[addr]; !ok && i == 0 {
				b.ptrs[addr] = wire
			}
		}
		return nil
	})
}

// AddBlockFile reads a block list: one name per line, or hosts-style
// lines ("0.0.0.0 name [name...]", the address ignored); # starts a
// comment; a leading "*." is the same as the name itself (which blocks
// its subdomains anyway).
func (b *Builder) AddBlockFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--block: %w", err)
	}
	defer f.Close()
	return b.AddBlock(f, path)
}

// AddBlock reads block-list text from r; file names it in errors.
func (b *Builder) AddBlock(r io.Reader, file string) error {
	b.init()
	return eachLine(r, file, func(fields []string) error {
		names := fields
		if _, err := netip.ParseAddr(fields[0]); err == nil {
			names = fields[1:]
			if len(names) == 0 {
				return errors.New("an address without a name")
			}
		}
		for _, n := range names {
			n = strings.TrimPrefix(n, "*.")
			wire, err := parseName(n)
			if err != nil {
				return fmt.Errorf("name %q: %w", n, err)
			}
			if wire == "\x00" {
				return errors.New("the root cannot be blocked (it would block every name)")
			}
			b.blocked[wire] = struct{}{}
		}
		return nil
	})
}

// eachLine calls f with the fields of every line that has any, after
// comments are cut; its errors get the file and line.
func eachLine(r io.Reader, file string, f func(fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if err := f(fields); err != nil {
			return fmt.Errorf("%s: line %d: %w", file, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", file, line+1, err)
	}
	return nil
}

// parseName turns a host name in presentation form (absolute or not; no
// escapes) into its canonical wire form.
func parseName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "." {
		return "\x00", nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' {
			return "", fmt.Errorf("character %q not allowed", c)
		}
	}
	w, err := dnswire.ParseName(s)
	return string(w), err
}

// Build compiles what was added. It never fails on data the Add methods
// accepted; the error is for future checks.
func (b *Builder) Build() (*Data, error) {
	b.init()
	d := &Data{names: make(map[string]*name, len(b.order)+len(b.ptrs)), blocked: b.blocked}
	for _, wire := range b.order {
		addrs, ok := b.overrides[wire]
		if !ok {
			addrs = b.hosts[wire]
		}
		n := &name{}
		for _, a := range addrs {
			if a.Is4() {
				n.a = appendRR(n.a, dnswire.TypeA, a.AsSlice())
				n.any = appendRR(n.any, dnswire.TypeA, a.AsSlice())
			}
		}
		for _, a := range addrs {
			if a.Is6() {
				n.aaaa = appendRR(n.aaaa, dnswire.TypeAAAA, a.AsSlice())
				n.any = appendRR(n.any, dnswire.TypeAAAA, a.AsSlice())
			}
		}
		d.names[wire] = n
	}
	for addr, target := range b.ptrs {
		// A PTR only where an override has not replaced the hosts
		// entry that gave it.
		if _, over := b.overrides[target]; over {
			continue
		}
		rev := reverseName(addr)
		n := d.names[rev]
		if n == nil {
			n = &name{}
			d.names[rev] = n
		}
		if n.ptr.Count == 0 {
			n.ptr = appendRR(n.ptr, dnswire.TypePTR, []byte(target))
		}
	}
	d.Names, d.Blocks = len(d.names), len(d.blocked)
	return d, nil
}

// appendRR adds one record owned by the question name (a pointer to offset
// 12) with class IN and TTL.
func appendRR(r Records, typ uint16, rdata []byte) Records {
	ttl := uint32(TTL)
	r.Data = append(r.Data, 0xC0, 12, byte(typ>>8), byte(typ), 0, 1,
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), byte(len(rdata)>>8), byte(len(rdata)))
	r.Data = append(r.Data, rdata...)
	r.Count++
	return r
}

// reverseName returns the canonical wire form of a's reverse-mapping name
// (RFC 1035 3.5, RFC 3596 2.5).
func reverseName(a netip.Addr) string {
	var w []byte
	const hex = "0123456789abcdef"
	if a.Is4() {
		b := a.As4()
		for i := 3; i >= 0; i-- {
			s := fmt.Sprint(b[i])
			w = append(w, byte(len(s)))
			w = append(w, s...)
		}
		w = append(w, 7)
		w = append(w, "in-addr"...)
	} else {
		b := a.As16()
		for i := 15; i >= 0; i-- {
			w = append(w, 1, hex[b[i]&0xf], 1, hex[b[i]>>4])
		}
		w = append(w, 3)
		w = append(w, "ip6"...)
	}
	w = append(w, 4)
	w = append(w, "arpa"...)
	return string(append(w, 0))
}
