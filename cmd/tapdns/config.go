package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/netstack"
)

// config is everything the command line decides.
type config struct {
	net       netstack.Config
	svc       dnssvc.Config
	tcp       dnstcp.Config
	zones     []string // zone files in command-line order; none: the embedded zone
	logLevel  slog.Level
	logFormat string        // "text" or "json"
	ops       opsConfig     // reloads, metrics, capture, query log, --user (ops.go)
	local     localConfig   // --override, --hosts, --block, --allow-recursion (local.go)
	resolve   resolveConfig // --resolve, --forward, the cache (resolve.go)
	mdns      mdnsConfig    // --mdns, --mdns-name, --mdns-timeout (mdns.go)
	xfr       xfrConfig     // zone transfers, TSIG, secondaries (xfr.go)
}

// usageError is a command-line or configuration mistake: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// zoneFiles is the repeatable --zone flag: FILE or ORIGIN=FILE
// (zoneset.ParseSource).
type zoneFiles []string

func (z *zoneFiles) String() string { return strings.Join(*z, ",") }

func (z *zoneFiles) Set(s string) error {
	if _, err := zoneset.ParseSource(s); err != nil {
		return err
	}
	*z = append(*z, s)
	return nil
}

const usageHead = `Usage: tapdns [flags]
       tapdns check --zone [ORIGIN=]FILE [--zone [ORIGIN=]FILE ...]
       tapdns dig [--tap NAME] --ip ADDR/LEN [--gateway ADDR] @SERVER NAME [TYPE] [+tcp] [+norec] [+dnssec] [+short] [+trace]
       tapdns version

tapdns serves authoritative DNS from zone files on a TAP device through a
userspace TCP/IP stack. Without --zone it serves the embedded demonstration
zone tapdns.test.

Flags:
`

// parseConfig parses and validates the command line (without the program
// name). It returns flag.ErrHelp for -h/--help and a usageError for every
// mistake; flag's own messages and the usage text go to stderr.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("tapdns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	var (
		zones     zoneFiles
		tap       = fs.String("tap", "tap0", "TAP device `name`: attached to if it exists (and left in place), created and removed on exit otherwise")
		ip        = fs.String("ip", "", "IPv4 `address[/len]` of the appliance (/24 when len is absent)")
		netmask   = fs.String("netmask", "", "IPv4 `netmask` such as 255.255.255.0, an alternative to --ip's /len")
		gateway   = fs.String("gateway", "", "IPv4 default gateway `address` (on-link); none when empty")
		ip6       = fs.String("ip6", "", "IPv6 `address/len` of the appliance (/64 when len is absent); link-local is always configured")
		gateway6  = fs.String("gateway6", "", "IPv6 default gateway `address` (link-local or on-link); none when empty")
		mac       = fs.String("mac", "", "Ethernet `address` of the appliance (default: a stable locally administered address derived from --tap)")
		mtu       = fs.Int("mtu", 1500, "IP MTU of the link")
		port      = fs.Int("port", 53, "UDP and TCP port served")
		queues    = fs.Int("queues", 1, "number of TAP queues, or with --xdp of RX queues (one AF_XDP socket each), one reader goroutine each (more than 1 needs a multi-queue TAP)")
		fastpath  = fs.Bool("fastpath", true, "answer plain UDP queries at the link layer, bypassing the gVisor stack")
		logLevel  = fs.String("log-level", "info", "log `level`: debug, info, warn or error")
		logFormat = fs.String("log-format", "text", "log `format`: text or json")
		udpSize   = fs.Int("udp-size", 1232, "EDNS UDP payload `size` advertised, and the largest UDP response sent (512-4096)")
		nsid      = fs.String("nsid", "", "`string` returned in the EDNS NSID option to clients that ask (RFC 5001); none when empty")
		chaos     = fs.Bool("chaos", false, "answer CHAOS TXT queries for version.bind, version.server, hostname.bind and id.server")
		chaosVer  = fs.String("chaos-version", dnssvc.DefaultVersion, "`string` answered for version.bind and version.server with --chaos")
		chaosID   = fs.String("chaos-identity", dnssvc.DefaultIdentity, "`string` answered for hostname.bind and id.server with --chaos")
		tcpIdle   = fs.Duration("tcp-idle-timeout", 10*time.Second, "close a TCP connection that sends no complete message for this `duration` (also bounds reading one message)")
		tcpConns  = fs.Int("tcp-max-conns", 256, "most concurrent TCP connections; at the limit the longest-idle one is closed for a new one")
		tcpQs     = fs.Int("tcp-max-queries", 100, "close a TCP connection after answering this many queries on it (0: no limit)")
		rrl       = fs.Int("rrl", 0, "response rate limit: UDP responses per second per client /24 (IPv4) or /56 (IPv6); 0: off")
		rrlSlip   = fs.Int("rrl-slip", dnssvc.DefaultRRLSlip, "with --rrl, send every `K`-th limited response as a truncated (TC=1) one and drop the others; 0: drop all")
	)
	fs.Var(&zones, "zone", "zone to serve: `FILE`, or ORIGIN=FILE for a file that does not set its origin (repeatable)")
	ops := addOpsFlags(fs)
	local := addLocalFlags(fs)
	resolve := addResolveFlags(fs)
	xdpf := addXDPFlag(fs)
	mdnsF := addMDNSFlags(fs)
	xf := addXfrFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return config{}, usagef("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}

	c := config{zones: zones, logFormat: *logFormat}
	c.net.FastPath = *fastpath

	var err error
	if c.net.TAP, err = parseTAPName(*tap); err != nil {
		return config{}, err
	}
	if c.net.Addr, err = parseIPv4(*ip, *netmask); err != nil {
		return config{}, err
	}
	if c.net.Gateway, err = parseGateway4(*gateway, c.net.Addr); err != nil {
		return config{}, err
	}
	if c.net.Addr6, err = parseIPv6(*ip6); err != nil {
		return config{}, err
	}
	if c.net.Gateway6, err = parseGateway6(*gateway6, c.net.Addr6); err != nil {
		return config{}, err
	}
	if !c.net.Addr.IsValid() && !c.net.Addr6.IsValid() {
		return config{}, usagef("no address: give --ip, --ip6 or both")
	}
	if *mac != "" {
		hw, err := parseMAC(*mac)
		if err != nil {
			return config{}, err
		}
		c.net.MAC = hw
	}
	// IPv6 (link-local at least) is always on; frames must fit the
	// stack's buffers.
	if *mtu < netstack.MinMTU || *mtu > netstack.MaxMTU {
		return config{}, usagef("--mtu %d: must be between %d and %d", *mtu, netstack.MinMTU, netstack.MaxMTU)
	}
	c.net.MTU = *mtu
	if *port < 1 || *port > 65535 {
		return config{}, usagef("--port %d: must be between 1 and 65535", *port)
	}
	c.net.Port = uint16(*port)
	if *queues < 1 || *queues > netstack.MaxQueues {
		return config{}, usagef("--queues %d: must be between 1 and %d", *queues, netstack.MaxQueues)
	}
	c.net.Queues = *queues
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil || !validLevelName(*logLevel) {
		return config{}, usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if *logFormat != "text" && *logFormat != "json" {
		return config{}, usagef("--log-format %q: want text or json", *logFormat)
	}
	// 512 is the DNS minimum (RFC 1035); 4096 the largest size in common use
	// (RFC 6891 section 6.2.5).
	if *udpSize < 512 || *udpSize > 4096 {
		return config{}, usagef("--udp-size %d: must be between 512 and 4096", *udpSize)
	}
	if len(*nsid) > 128 {
		return config{}, usagef("--nsid: longer than 128 bytes")
	}
	// Each CHAOS answer is one TXT character-string.
	if len(*chaosVer) > 255 || len(*chaosID) > 255 {
		return config{}, usagef("--chaos-version and --chaos-identity: at most 255 bytes each")
	}
	c.svc = dnssvc.Config{UDPSize: *udpSize, NSID: *nsid, Chaos: *chaos, Version: *chaosVer, Identity: *chaosID}
	if err := parseLimits(&c, *tcpIdle, *tcpConns, *tcpQs, *rrl, *rrlSlip); err != nil {
		return config{}, err
	}
	if err := ops.parse(&c); err != nil {
		return config{}, err
	}
	if err := local.parse(&c); err != nil {
		return config{}, err
	}
	if err := resolve.parse(&c); err != nil {
		return config{}, err
	}
	if err := xdpf.apply(&c, fs); err != nil {
		return config{}, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := mdnsF.parse(&c, given); err != nil {
		return config{}, err
	}
	if err := xf.parse(&c); err != nil {
		return config{}, err
	}
	// The packages fill in their own defaults and have the last word on
	// what they accept, so that the flags and they never disagree.
	if c.net, err = c.net.Normalize(); err != nil {
		return config{}, usageError{err}
	}
	return c, nil
}

// parseLimits checks the TCP and rate-limit flags and puts them in c.
func parseLimits(c *config, idle time.Duration, conns, queries, rrl, slip int) error {
	if idle < dnstcp.MinIdleTimeout || idle > dnstcp.MaxIdleTimeout {
		return usagef("--tcp-idle-timeout %v: must be between %v and %v", idle, dnstcp.MinIdleTimeout, dnstcp.MaxIdleTimeout)
	}
	if conns < 1 || conns > dnstcp.MaxMaxConns {
		return usagef("--tcp-max-conns %d: must be between 1 and %d", conns, dnstcp.MaxMaxConns)
	}
	if queries < 0 {
		return usagef("--tcp-max-queries %d: must not be negative (0: no limit)", queries)
	}
	if rrl < 0 || rrl > 1_000_000 {
		return usagef("--rrl %d: must be between 0 (off) and 1000000", rrl)
	}
	if slip < 0 || slip > 100 {
		return usagef("--rrl-slip %d: must be between 0 and 100", slip)
	}
	c.tcp = dnstcp.Config{IdleTimeout: idle, MaxConns: conns, MaxQueries: queries}
	if queries == 0 {
		c.tcp.MaxQueries = -1 // dnstcp: negative is no limit, 0 the default
	}
	var err error
	if c.tcp, err = c.tcp.Normalize(); err != nil {
		return usageError{err}
	}
	c.svc.RRL, c.svc.RRLSlip = rrl, slip
	return nil
}

// parseMAC parses --mac: a unicast EUI-48 address other than zero.
func parseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6:
		return nil, usagef("--mac %q: not an Ethernet (EUI-48) address", s)
	case hw[0]&1 != 0:
		return nil, usagef("--mac %s: a multicast address cannot be an interface address", hw)
	case string(hw) == "\x00\x00\x00\x00\x00\x00":
		return nil, usagef("--mac %s: the zero address cannot be an interface address", hw)
	}
	return hw, nil
}

// validLevelName accepts the four level names only, not slog's "info+2".
func validLevelName(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// parseTAPName checks name against the kernel's rules for interface names.
func parseTAPName(name string) (string, error) {
	switch {
	case name == "":
		return "", usagef("--tap: empty device name")
	case len(name) > 15: // IFNAMSIZ - 1
		return "", usagef("--tap %q: longer than 15 bytes", name)
	case name == "." || name == "..":
		return "", usagef("--tap %q: not a valid device name", name)
	case strings.ContainsAny(name, "/: \t\n"):
		return "", usagef("--tap %q: device names cannot contain '/', ':' or spaces", name)
	}
	return name, nil
}

// parseIPv4 combines --ip ADDR[/LEN] and --netmask MASK into our address
// and on-link prefix. An empty ip gives the zero Prefix (no IPv4).
func parseIPv4(ip, netmask string) (netip.Prefix, error) {
	if ip == "" {
		if netmask != "" {
			return netip.Prefix{}, usagef("--netmask without --ip")
		}
		return netip.Prefix{}, nil
	}
	addrStr, _, hasLen := strings.Cut(ip, "/")
	addr, err := netip.ParseAddr(addrStr)
	if err != nil || !addr.Is4() {
		return netip.Prefix{}, usagef("--ip %q: not an IPv4 address", ip)
	}
	bitsLen := 24
	if hasLen {
		p, err := netip.ParsePrefix(ip)
		if err != nil {
			return netip.Prefix{}, usagef("--ip %q: bad prefix length", ip)
		}
		bitsLen = p.Bits()
	}
	if netmask != "" {
		m, err := maskBits(netmask)
		if err != nil {
			return netip.Prefix{}, err
		}
		if hasLen && m != bitsLen {
			return netip.Prefix{}, usagef("--ip %s and --netmask %s disagree (/%d vs /%d)", ip, netmask, bitsLen, m)
		}
		bitsLen = m
	}
	if bitsLen == 0 {
		return netip.Prefix{}, usagef("--ip %s: prefix length must be 1 to 32", ip)
	}
	if err := checkUnicast("--ip", addr); err != nil {
		return netip.Prefix{}, err
	}
	p := netip.PrefixFrom(addr, bitsLen)
	// In prefixes of /30 and shorter the first and last addresses are the
	// network and broadcast addresses (/31 and /32 have neither: RFC 3021).
	if bitsLen <= 30 {
		if addr == p.Masked().Addr() {
			return netip.Prefix{}, usagef("--ip %s: that is the network address of %s", addr, p.Masked())
		}
		if addr == lastAddr4(p) {
			return netip.Prefix{}, usagef("--ip %s: that is the broadcast address of %s", addr, p.Masked())
		}
	}
	return p, nil
}

// maskBits converts a dotted-quad netmask to a prefix length, refusing
// non-contiguous masks.
func maskBits(mask string) (int, error) {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return 0, usagef("--netmask %q: not a dotted-quad IPv4 netmask", mask)
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := bits.LeadingZeros32(^v)
	if v<<ones != 0 {
		return 0, usagef("--netmask %s: not contiguous", mask)
	}
	return ones, nil
}

func lastAddr4(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func checkUnicast(flagName string, a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return usagef("%s %s: the unspecified address cannot be an interface address", flagName, a)
	case a.IsLoopback():
		return usagef("%s %s: a loopback address cannot be used on a TAP", flagName, a)
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return usagef("%s %s: not a unicast address", flagName, a)
	}
	return nil
}

// parseGateway4 parses --gateway, which must be on-link in self's prefix.
func parseGateway4(gw string, self netip.Prefix) (netip.Addr, error) {
	if gw == "" {
		return netip.Addr{}, nil
	}
	if !self.IsValid() {
		return netip.Addr{}, usagef("--gateway without --ip")
	}
	a, err := netip.ParseAddr(gw)
	if err != nil || !a.Is4() {
		return netip.Addr{}, usagef("--gateway %q: not an IPv4 address", gw)
	}
	if err := checkUnicast("--gateway", a); err != nil {
		return netip.Addr{}, err
	}
	if a == self.Addr() {
		return netip.Addr{}, usagef("--gateway %s: that is the appliance's own address", a)
	}
	if !self.Contains(a) {
		return netip.Addr{}, usagef("--gateway %s: not on-link in %s", a, self.Masked())
	}
	return a, nil
}

// parseIPv6 parses --ip6 ADDR[/LEN]. An empty string gives the zero Prefix.
func parseIPv6(ip6 string) (netip.Prefix, error) {
	if ip6 == "" {
		return netip.Prefix{}, nil
	}
	s := ip6
	if !strings.Contains(s, "/") {
		s += "/64"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return netip.Prefix{}, usagef("--ip6 %q: not an IPv6 address/len", ip6)
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, usagef("--ip6 %s: prefix length must be 1 to 128", ip6)
	}
	if err := checkUnicast("--ip6", p.Addr()); err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().IsLinkLocalUnicast() {
		return netip.Prefix{}, usagef("--ip6 %s: the link-local address is configured automatically; give a global or unique-local one", ip6)
	}
	return p, nil
}

// parseGateway6 parses --gateway6: link-local, or on-link in self's prefix.
func parseGateway6(gw string, self netip.Prefix) (netip.Addr, error) {
	if gw == "" {
		return netip.Addr{}, nil
	}
	if !self.IsValid() {
		return netip.Addr{}, usagef("--gateway6 without --ip6")
	}
	a, err := netip.ParseAddr(gw)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return netip.Addr{}, usagef("--gateway6 %q: not an IPv6 address", gw)
	}
	if err := checkUnicast("--gateway6", a); err != nil {
		return netip.Addr{}, err
	}
	if a == self.Addr() {
		return netip.Addr{}, usagef("--gateway6 %s: that is the appliance's own address", a)
	}
	if !a.IsLinkLocalUnicast() && !self.Contains(a) {
		return netip.Addr{}, usagef("--gateway6 %s: neither link-local nor on-link in %s", a, self.Masked())
	}
	return a, nil
}
