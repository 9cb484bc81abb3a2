package main

// tapdns dig: the dig-like client on its own userspace stack.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnsclient"
	"github.com/tapdns/tapdns/netstack"
)

const digUsage = `Usage: tapdns dig [flags] @SERVER NAME [TYPE] [+tcp] [+norec] [+dnssec] [+short] [+trace]

Sends one query (or, with +trace, walks the delegations from the root as
dig +trace does) over a userspace TCP/IP stack of its own on a TAP device,
and prints the response in dig's format. The TAP is attached to if it
exists, created (and removed on exit) otherwise; its kernel side must be
connected (a bridge, or addressed and up) for anything to reach SERVER.
Exit status: 0 on a response, 1 on a timeout or network failure, 2 for a
usage error.

Flags:
`

// digConfig is what `tapdns dig` was asked.
type digConfig struct {
	net    netstack.Config
	server netip.AddrPort
	name   string
	qtype  uint16
	opts   dnsclient.Options
	short  bool
	trace  bool
}

// digNoServe answers nothing: the client's stack serves no DNS.
type digNoServe struct{}

func (digNoServe) HandlePacket(dst, _ []byte, _ netstack.Meta) []byte { return dst[:0] }

func parseDig(args []string, stderr io.Writer) (digConfig, error) {
	fs := flag.NewFlagSet("tapdns dig", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), digUsage)
		fs.PrintDefaults()
	}
	var (
		tap      = fs.String("tap", "tapdig0", "TAP device `name` of the client's stack")
		ip       = fs.String("ip", "", "IPv4 `address/len` of the client")
		gateway  = fs.String("gateway", "", "IPv4 default gateway `address`")
		ip6      = fs.String("ip6", "", "IPv6 `address/len` of the client")
		gateway6 = fs.String("gateway6", "", "IPv6 default gateway `address`")
		mac      = fs.String("mac", "", "Ethernet `address` of the client (default: derived from --tap)")
		timeout  = fs.Duration("timeout", 5*time.Second, "wait this long for each try")
		tries    = fs.Int("tries", 3, "UDP tries")
	)
	if err := parseFlags(fs, args); err != nil {
		return digConfig{}, err
	}
	c := digConfig{qtype: dns.TypeA, opts: dnsclient.Options{Timeout: *timeout, Tries: *tries}}
	var err error
	if err = parseLink(&c.net, *tap, *ip, "", *gateway, *ip6, *gateway6, *mac); err != nil {
		return digConfig{}, err
	}
	if *timeout <= 0 || *tries < 1 {
		return digConfig{}, usagef("--timeout and --tries must be positive")
	}
	typeSet := false
	for _, a := range fs.Args() {
		switch {
		case strings.HasPrefix(a, "@"):
			s := strings.TrimPrefix(a, "@")
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				addr, aerr := netip.ParseAddr(strings.Trim(s, "[]"))
				if aerr != nil {
					return digConfig{}, usagef("server %q: not an IP address (tapdns dig looks up no names)", s)
				}
				ap = netip.AddrPortFrom(addr, 53)
			}
			c.server = ap
		case strings.HasPrefix(a, "+"):
			switch a {
			case "+tcp", "+vc":
				c.opts.TCP = true
			case "+norec", "+norecurse":
				c.opts.NoRec = true
			case "+dnssec":
				c.opts.DNSSEC = true
			case "+short":
				c.short = true
			case "+trace":
				c.trace = true
			default:
				return digConfig{}, usagef("unknown option %s (want +tcp, +norec, +dnssec, +short or +trace)", a)
			}
		case c.name == "":
			c.name = a
		case !typeSet:
			t, ok := dns.StringToType[strings.ToUpper(a)]
			if !ok {
				if n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(a), "TYPE"), 10, 16); err == nil && strings.HasPrefix(strings.ToUpper(a), "TYPE") {
					t, ok = uint16(n), true
				}
			}
			if !ok {
				return digConfig{}, usagef("unknown type %q", a)
			}
			c.qtype, typeSet = t, true
		default:
			return digConfig{}, usagef("unexpected argument %q", a)
		}
	}
	if !c.server.IsValid() {
		return digConfig{}, usagef("no server: give @ADDRESS")
	}
	if c.name == "" {
		return digConfig{}, usagef("no name to look up")
	}
	if _, ok := dns.IsDomainName(c.name); !ok {
		return digConfig{}, usagef("%q is not a domain name", c.name)
	}
	s := c.server.Addr()
	if (s.Is4() && !c.net.Addr.IsValid()) || (s.Is6() && !s.IsLinkLocalUnicast() && !c.net.Addr6.IsValid()) {
		return digConfig{}, usagef("server %v: no local address of its family (--ip or --ip6)", s)
	}
	// The client's stack serves nothing; a port no one queries.
	c.net.Port = 53
	if c.net, err = c.net.Normalize(); err != nil {
		return digConfig{}, usageError{err}
	}
	return c, nil
}

// runDig is `tapdns dig`.
func runDig(args []string, stdout, stderr io.Writer) int {
	c, err := parseDig(args, stderr)
	if code, exit := usageExit(stderr, "tapdns dig", err); exit {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := netstack.New(c.net, digNoServe{}, log)
	if err != nil {
		fmt.Fprintf(stderr, "tapdns dig: %v\n", err)
		return exitRuntime
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	runCtx, cancelRun := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- st.Run(runCtx) }()
	defer func() {
		cancelRun()
		<-runErr
	}()

	if c.trace {
		to := dnsclient.TraceOptions{Options: c.opts, IPv4: c.net.Addr.IsValid(), IPv6: c.net.Addr6.IsValid()}
		fmt.Fprintf(stdout, "\n; <<>> tapdns dig <<>> +trace %s %s\n", c.name, dns.TypeToString[c.qtype])
		if _, err := dnsclient.Trace(ctx, st, c.server, c.name, c.qtype, to, stdout); err != nil {
			fmt.Fprintf(stderr, ";; trace: %v\n", err)
			return exitRuntime
		}
		return exitOK
	}
	q := dnsclient.NewQuery(c.name, c.qtype, c.opts)
	if !c.short {
		fmt.Fprintf(stdout, "\n; <<>> tapdns dig <<>> @%s %s %s\n", c.server.Addr(), c.name, dns.TypeToString[c.qtype])
	}
	r, err := dnsclient.Exchange(ctx, st, c.server, q, c.opts)
	if err != nil {
		fmt.Fprintf(stdout, ";; %v\n", err)
		return exitRuntime
	}
	dnsclient.Print(stdout, r, c.short)
	return exitOK
}
