package fakenet

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tapdns/tapdns/internal/peerconf"
)

// nsdConfig returns the configuration of an NSD server: foreground, one
// server process, everything under s.Dir, no rate limiting, no transfers,
// EDNS size 1232 (so the big answers are truncated over UDP).
func nsdConfig(s Server, zones []Zone) string {
	return peerconf.NSD{
		Dir:    s.Dir,
		Listen: port53(s.Addrs),
		Server: []string{"do-ip4: yes", "do-ip6: yes", "verbosity: 1", "refuse-any: no",
			"ipv4-edns-size: 1232", "ipv6-edns-size: 1232", "rrl-ratelimit: 0", "rrl-whitelist-ratelimit: 0", "tcp-count: 100"},
		Zones: serverZones(s, zones),
	}.String()
}

// knotConfig returns the configuration of a Knot DNS server: one UDP and
// one TCP worker, everything under s.Dir, no zone file or journal writes,
// no transfers, UDP payload 1232.
func knotConfig(s Server, zones []Zone) string {
	return peerconf.Knot{
		Dir:    s.Dir,
		Listen: port53(s.Addrs),
		Server: []string{"udp-max-payload: 1232", "udp-workers: 1", "tcp-workers: 1"},
		Zones:  serverZones(s, zones),
	}.String()
}

func port53(addrs []netip.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a, 53))
	}
	return out
}

// serverZones returns the zones s loads.
func serverZones(s Server, zones []Zone) []peerconf.Zone {
	var out []peerconf.Zone
	for _, z := range zones {
		if slices.Contains(z.Servers, s.Name) {
			out = append(out, peerconf.Zone{Name: z.Origin, File: z.File})
		}
	}
	return out
}

// UnboundConfig returns a configuration for Unbound as the reference
// resolver of a fake Internet: one thread, in the foreground, listening
// on listen (port 53), recursion for everyone (it only ever runs inside a
// test namespace), the fake root hints, no DNSSEC validation
// (module-config "iterator"), queries to 127.0.0.0/8 allowed, and none
// of the local zones Unbound serves by default for the names the fake
// Internet uses (test. would otherwise be NXDOMAIN). Caches are sized
// like tapdns's default --cache-size so a benchmark does not evict.
// Everything Unbound writes goes under dir.
func UnboundConfig(dir, hints string, listen []netip.Addr) string {
	var b strings.Builder
	b.WriteString("server:\n")
	for _, a := range listen {
		fmt.Fprintf(&b, "  interface: %s@53\n", a)
	}
	fmt.Fprintf(&b, `  num-threads: 1
  do-daemonize: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip4: yes
  do-ip6: yes
  access-control: 0.0.0.0/0 allow
  access-control: ::/0 allow
  root-hints: %q
  module-config: "iterator"
  do-not-query-localhost: no
  local-zone: "test." nodefault
  msg-cache-size: 32m
  rrset-cache-size: 64m
  ratelimit: 0
  ip-ratelimit: 0
  so-reuseport: no
remote-control:
  control-enable: no
`, dir, filepath.Join(dir, "unbound.pid"), hints)
	return b.String()
}

// KresdConfig returns a configuration (Lua) for one Knot Resolver process
// as the reference resolver of a fake Internet: listening on listen (port
// 53, UDP and TCP), the fake root hints through the hints module, no
// trust anchor (the fake root is unsigned), test. resolved like any other
// name (kresd answers NXDOMAIN itself for special-use names otherwise),
// and a 64 MiB cache in dir/cache, its own (kresd's default location is
// relative to its working directory; Debian's service points it at
// /var/cache/knot-resolver, which two instances must not share). Start it
// as kresd -n -c CONFIG dir.
func KresdConfig(dir, hints string, listen []netip.Addr) string {
	var b strings.Builder
	b.WriteString("-- Knot Resolver for a fake Internet (internal/fakenet)\n")
	for _, a := range listen {
		fmt.Fprintf(&b, "net.listen('%s', 53, { kind = 'dns' })\n", a)
	}
	fmt.Fprintf(&b, `modules.load('hints > iterate')
hints.root_file('%s')
trust_anchors.remove('.')
policy.add(policy.suffix(policy.PASS, { todname('test.') }))
cache.open(64 * MB, 'lmdb://%s')
log_level('notice')
`, hints, filepath.Join(dir, "cache"))
	return b.String()
}
