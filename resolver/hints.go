package resolver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/tapdns/tapdns/dnswire"
)

// Hint is one root server of the root hints: its name (presentation
// format, absolute) and addresses.
type Hint struct {
	Name  string
	Addrs []netip.Addr
}

// IANARootHints returns the root hints published by IANA (named.root of
// 2024-02, b.root-servers.net renumbered in 2023). Iteration starts from
// them unless Config.RootHints says otherwise; they are used to prime the
// root NS set (RFC 8109), never trusted beyond that.
func IANARootHints() []Hint {
	h := func(name, v4, v6 string) Hint {
		return Hint{Name: name, Addrs: []netip.Addr{netip.MustParseAddr(v4), netip.MustParseAddr(v6)}}
	}
	return []Hint{
		h("a.root-servers.net.", "198.41.0.4", "2001:503:ba3e::2:30"),
		h("b.root-servers.net.", "170.247.170.2", "2801:1b8:10::b"),
		h("c.root-servers.net.", "192.33.4.12", "2001:500:2::c"),
		h("d.root-servers.net.", "199.7.91.13", "2001:500:2d::d"),
		h("e.root-servers.net.", "192.203.230.10", "2001:500:a8::e"),
		h("f.root-servers.net.", "192.5.5.241", "2001:500:2f::f"),
		h("g.root-servers.net.", "192.112.36.4", "2001:500:12::d0d"),
		h("h.root-servers.net.", "198.97.190.53", "2001:500:1::53"),
		h("i.root-servers.net.", "192.36.148.17", "2001:7fe::53"),
		h("j.root-servers.net.", "192.58.128.30", "2001:503:c27::2:30"),
		h("k.root-servers.net.", "193.0.14.129", "2001:7fd::1"),
		h("l.root-servers.net.", "199.7.83.42", "2001:500:9f::42"),
		h("m.root-servers.net.", "202.12.27.33", "2001:dc3::35"),
	}
}

// LoadRootHints reads a root hints file (see ParseRootHints).
func LoadRootHints(path string) ([]Hint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("root hints: %w", err)
	}
	defer f.Close()
	return ParseRootHints(f, path)
}

// maxHintsLine bounds a line of a hints file.
const maxHintsLine = 4096

// ParseRootHints reads root hints in the format of IANA's named.root (a
// master file of NS records owned by the root and the A and AAAA records
// of their targets):
//
//	.                   3600000  NS    A.ROOT-SERVERS.NET.
//	A.ROOT-SERVERS.NET. 3600000  A     198.41.0.4
//
// Names are absolute; the TTL and the class (IN) are optional; ';' starts
// a comment. Every NS target needs an address, and there must be at least
// one. file names the input in errors ("FILE: line N: reason").
func ParseRootHints(r io.Reader, file string) ([]Hint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxHintsLine)
	var order []string
	addrs := map[string][]netip.Addr{}
	ns := map[string]bool{}
	line := 0
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: line %d: %s", file, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, ';'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		owner, err := hintName(f[0])
		if err != nil {
			return nil, fail("owner %q: %v", f[0], err)
		}
		f = f[1:]
		if len(f) > 0 && f[0] != "" && f[0][0] >= '0' && f[0][0] <= '9' {
			if _, err := strconv.ParseUint(f[0], 10, 32); err != nil {
				return nil, fail("TTL %q: %v", f[0], err)
			}
			f = f[1:]
		}
		if len(f) > 0 && strings.EqualFold(f[0], "IN") {
			f = f[1:]
		}
		if len(f) != 2 {
			return nil, fail("want OWNER [TTL] [IN] TYPE DATA")
		}
		switch strings.ToUpper(f[0]) {
		case "NS":
			if owner != "." {
				return nil, fail("NS record owned by %s, not the root", owner)
			}
			target, err := hintName(f[1])
			if err != nil {
				return nil, fail("NS target %q: %v", f[1], err)
			}
			if !ns[target] {
				ns[target] = true
				order = append(order, target)
			}
		case "A", "AAAA":
			a, err := netip.ParseAddr(f[1])
			if err != nil || a.Zone() != "" || a.Is4() != strings.EqualFold(f[0], "A") {
				return nil, fail("bad %s address %q", strings.ToUpper(f[0]), f[1])
			}
			addrs[owner] = append(addrs[owner], a)
		default:
			return nil, fail("record type %s: root hints hold only NS, A and AAAA", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", file, line+1, err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: no NS records for the root", file)
	}
	hints := make([]Hint, 0, len(order))
	for _, n := range order {
		if len(addrs[n]) == 0 {
			return nil, fmt.Errorf("%s: root server %s has no address", file, n)
		}
		hints = append(hints, Hint{Name: n, Addrs: addrs[n]})
	}
	return hints, nil
}

// hintName checks an absolute presentation-format name without escapes
// and returns it lower-cased.
func hintName(s string) (string, error) {
	if s == "." {
		return s, nil
	}
	_, err := wireName(s)
	return strings.ToLower(s), err
}

// wireName converts an absolute presentation-format name without escapes
// to a canonical wire name.
func wireName(s string) ([]byte, error) {
	if s == "." {
		return []byte{0}, nil
	}
	if !strings.HasSuffix(s, ".") {
		return nil, errors.New("not absolute (no final dot)")
	}
	if strings.ContainsAny(s, "\\\"()$@") {
		return nil, errors.New("escapes and special characters are not supported here")
	}
	return dnswire.ParseName(s)
}
