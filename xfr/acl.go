package xfr

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tapdns/tapdns/tsig"
)

// Rule is one entry of an access list: a client prefix, or a TSIG key.
// Exactly one of the two is set.
type Rule struct {
	Prefix netip.Prefix
	// Key is the canonical wire-format name of a key that a request must
	// be signed (and verified) with.
	Key string
}

// String returns the rule in flag syntax.
func (r Rule) String() string {
	if r.Key != "" {
		return "key=" + nameText([]byte(r.Key))
	}
	return r.Prefix.String()
}

// ACL is an access list: a request is allowed when any rule matches. The
// empty ACL allows nothing.
type ACL []Rule

// Allows reports whether a request from client, verified with key (nil
// when unsigned), matches a rule.
func (a ACL) Allows(client netip.Addr, key *tsig.Key) bool {
	client = client.Unmap()
	for _, r := range a {
		if r.Key != "" {
			if key != nil && key.Name == r.Key {
				return true
			}
			continue
		}
		if r.Prefix.Contains(client) {
			return true
		}
	}
	return false
}

// ParseRule parses "CIDR", a bare address (a /32 or /128), or
// "key=NAME" (NAME must be in keys).
func ParseRule(s string, keys *tsig.Keyring) (Rule, error) {
	if name, ok := strings.CutPrefix(s, "key="); ok {
		k := keys.KeyText(name)
		if k == nil {
			return Rule{}, fmt.Errorf("%q: no --tsig key named %q", s, name)
		}
		return Rule{Key: k.Name}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" {
			return Rule{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		return Rule{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return Rule{}, fmt.Errorf("%q: want CIDR, address or key=NAME", s)
	}
	return Rule{Prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
}

// Remote is a server to pull a zone from, or to send NOTIFY to.
type Remote struct {
	// Zone is the zone's canonical wire-format name (empty for NOTIFY
	// targets, which get every zone).
	Zone []byte
	Addr netip.AddrPort
	// Key signs requests to the remote and checks its answers; nil for
	// none.
	Key *tsig.Key
}

// String returns the remote in flag syntax.
func (r Remote) String() string {
	s := r.Addr.String()
	if len(r.Zone) > 0 {
		s = nameText(r.Zone) + "@" + s
	}
	if r.Key != nil {
		s += ",key=" + r.Key.NameText()
	}
	return s
}

// ParseRemote parses ZONE@ADDR[:PORT][,key=NAME] (withZone) or
// ADDR[:PORT][,key=NAME]. IPv6 addresses with a port are bracketed
// ("[2001:db8::1]:5353"); the port defaults to 53.
func ParseRemote(s string, withZone bool, keys *tsig.Keyring) (Remote, error) {
	var r Remote
	rest := s
	if withZone {
		z, a, ok := strings.Cut(s, "@")
		if !ok {
			return Remote{}, fmt.Errorf("%q: want ZONE@ADDR[:PORT][,key=NAME]", s)
		}
		name, err := ParseName(z)
		if err != nil {
			return Remote{}, fmt.Errorf("%q: zone: %w", s, err)
		}
		r.Zone, rest = name, a
	}
	addr, opts, _ := strings.Cut(rest, ",")
	ap, err := parseAddrPort(addr)
	if err != nil {
		return Remote{}, fmt.Errorf("%q: %w", s, err)
	}
	r.Addr = ap
	if opts != "" {
		name, ok := strings.CutPrefix(opts, "key=")
		if !ok || strings.Contains(name, ",") {
			return Remote{}, fmt.Errorf("%q: unknown option %q (want key=NAME)", s, opts)
		}
		if r.Key = keys.KeyText(name); r.Key == nil {
			return Remote{}, fmt.Errorf("%q: no --tsig key named %q", s, name)
		}
	}
	return r, nil
}

// parseAddrPort parses ADDR, ADDR:PORT or [ADDR6]:PORT (port 53 by
// default).
func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("port 0")
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), checkRemoteAddr(ap.Addr())
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not ADDR or ADDR:PORT", s)
	}
	return netip.AddrPortFrom(a.Unmap(), 53), checkRemoteAddr(a)
}

func checkRemoteAddr(a netip.Addr) error {
	switch {
	case a.Zone() != "":
		return fmt.Errorf("%s: scoped addresses are not supported", a)
	case a.IsUnspecified() || a.IsMulticast():
		return fmt.Errorf("%s: not a unicast address", a)
	}
	return nil
}

// portText formats a port for messages.
func portText(p uint16) string { return strconv.Itoa(int(p)) }
