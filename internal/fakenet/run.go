package fakenet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/labtest"
)

// Startup bounds: a fake Internet or a resolver that is not answering
// within these fails the test with the daemon's output.
const (
	serversTimeout  = 20 * time.Second
	resolverTimeout = 15 * time.Second
	// stopTimeout is how long a daemon gets between SIGTERM and SIGKILL.
	stopTimeout = 5 * time.Second
)

// DeadTAP is the device, inside the namespace, that the dead addresses
// are routed into, with permanent neighbour entries. Nothing reads it, so
// what is sent there vanishes without an error: UDP queries get no
// answer, TCP connections time out.
const DeadTAP = "fndead"

// Net is a fake Internet running inside a test's namespace.
type Net struct {
	*Layout
	NS *labtest.NS
	// Procs are the servers' processes, in the order of Layout.Servers.
	Procs []*labtest.Proc
}

// StopServers stops every authoritative server (by PID: SIGTERM, then
// SIGKILL after 5 s) and waits for them, for tests of what a resolver does
// when the Internet is gone.
func (n *Net) StopServers(t testing.TB) {
	t.Helper()
	for _, p := range n.Procs {
		_ = p.Signal(syscall.SIGTERM)
	}
	for _, p := range n.Procs {
		if _, ok := p.Wait(stopTimeout); !ok {
			_ = p.Signal(syscall.SIGKILL)
			p.Wait(stopTimeout)
		}
	}
}

// Start lays out the fake Internet in a temporary directory (see Write),
// adds the server addresses to lo inside ns, routes the dead addresses
// into DeadTAP, starts every server and waits until each answers the SOA
// query of each of its zones authoritatively. It fails the test, with the
// servers' output, if that takes more than 20 s. The servers are stopped
// by PID in the test's cleanup.
func Start(t testing.TB, ns *labtest.NS, opt Options) *Net {
	t.Helper()
	labtest.RequireTools(t, "nsd", "nsd-checkconf", "knotd", "knotc")
	l, err := Write(t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	n := &Net{Layout: l, NS: ns}
	var batch strings.Builder
	batch.WriteString("link set lo up\n")
	for _, a := range l.Addrs() {
		fmt.Fprintf(&batch, "%s\n", loAddr(a))
	}
	ipBatch(t, ns, batch.String())
	ns.AddTAP(t, DeadTAP, "", "")
	batch.Reset()
	for i, a := range l.Dead {
		// A permanent neighbour entry: packets are handed to the TAP and
		// vanish, with no failed address resolution that would send
		// "host unreachable" back to the sender.
		fmt.Fprintf(&batch, "route add %s dev %s\nneigh add %s lladdr 02:00:00:00:09:%02x dev %s nud permanent\n",
			prefix(a), DeadTAP, a, i+1, DeadTAP)
	}
	ipBatch(t, ns, batch.String())

	// Check the configurations first: a bad one is reported in the
	// daemon's own words rather than as a timeout.
	for _, s := range l.Servers {
		var err error
		switch s.Impl {
		case NSD:
			_, err = ns.Run(t, "nsd-checkconf", s.Config)
		case Knot:
			_, err = ns.Run(t, "knotc", "-c", s.Config, "conf-check")
		}
		if err != nil {
			t.Fatalf("fakenet: %s: %v", s.Name, err)
		}
	}
	procs := make([]*labtest.Proc, len(l.Servers))
	for i, s := range l.Servers {
		switch s.Impl {
		case NSD:
			procs[i] = ns.Start(t, "nsd", "-d", "-c", s.Config)
		case Knot:
			procs[i] = ns.Start(t, "knotd", "-c", s.Config)
		}
		stopOnCleanup(t, procs[i])
	}
	n.Procs = procs
	deadline := time.Now().Add(serversTimeout)
	for i, s := range l.Servers {
		for _, z := range s.Zones {
			if err := n.waitZone(procs[i], s.Addrs[0], z, deadline); err != nil {
				t.Fatalf("fakenet: %s (%s, pid %d): %v\nstderr:\n%s", s.Name, s.Impl, procs[i].PID(), err, procs[i].Stderr())
			}
		}
	}
	return n
}

// waitZone polls addr until it answers origin's SOA with AA and NOERROR:
// Knot answers REFUSED while it still loads zones in the background.
func (n *Net) waitZone(p *labtest.Proc, addr netip.Addr, origin string, deadline time.Time) error {
	server := netip.AddrPortFrom(addr, 53)
	var last string
	for {
		select {
		case <-p.Done():
			return fmt.Errorf("exited before serving %s", origin)
		default:
		}
		m, err := Exchange(n.NS, server, NewQuery(origin, dns.TypeSOA, false), 200*time.Millisecond)
		switch {
		case err != nil:
			last = err.Error()
		case m.Rcode == dns.RcodeSuccess && m.Authoritative:
			return nil
		default:
			last = fmt.Sprintf("rcode %s, aa %v", dns.RcodeToString[m.Rcode], m.Authoritative)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer %s SOA authoritatively within %v (last: %s)", server, origin, serversTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loAddr returns the ip(8) command that adds a to lo: IPv6 ones without
// duplicate address detection, which would leave them tentative (not
// bindable) for a moment.
func loAddr(a netip.Addr) string {
	if a.Is6() {
		return "addr add " + prefix(a) + " dev lo nodad"
	}
	return "addr add " + prefix(a) + " dev lo"
}

// ipBatch runs `ip -n NS -batch -` with the given commands, one a line.
func ipBatch(t testing.TB, ns *labtest.NS, cmds string) {
	t.Helper()
	c := exec.Command("ip", "-n", ns.Name, "-batch", "-")
	c.Stdin = strings.NewReader(cmds)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("fakenet: ip -n %s -batch: %v: %s\ncommands:\n%s", ns.Name, err, out, cmds)
	}
}

// stopOnCleanup stops p with SIGTERM (SIGKILL after 5 s) in a cleanup that
// runs before the temporary directories of the test are removed, so that
// no daemon writes into a directory being deleted. labtest's own cleanup
// then finds it stopped and logs its output if the test failed.
func stopOnCleanup(t testing.TB, p *labtest.Proc) {
	t.Cleanup(func() {
		select {
		case <-p.Done():
			return
		default:
		}
		_ = p.Signal(syscall.SIGTERM)
		if _, ok := p.Wait(stopTimeout); !ok {
			t.Errorf("fakenet: pid %d ignored SIGTERM for %v; killing it", p.PID(), stopTimeout)
			_ = p.Signal(syscall.SIGKILL)
			p.Wait(stopTimeout)
		}
	})
}

// Resolver is a reference resolver (Unbound or Knot Resolver) running in
// the fake Internet's namespace with its root hints.
type Resolver struct {
	// Name is "unbound" or "kresd".
	Name string
	// Addrs are the addresses it listens on, port 53.
	Addrs []netip.Addr
	Proc  *labtest.Proc
}

// Addr returns the first listening address with port 53.
func (r *Resolver) Addr() netip.AddrPort { return netip.AddrPortFrom(r.Addrs[0], 53) }

// StartUnbound starts Unbound (num-threads 1, see UnboundConfig)
// listening on addrs, adding to lo those that the namespace does not have
// yet, and waits until it resolves ". NS" (at most 15 s).
func (n *Net) StartUnbound(t testing.TB, addrs ...netip.Addr) *Resolver {
	t.Helper()
	return n.StartUnboundWith(t, "", addrs...)
}

// StartUnboundWith is StartUnbound with extra appended to the
// configuration: clauses of their own, e.g. "server:" followed by
// local-data and local-zone lines (Unbound merges repeated clauses).
func (n *Net) StartUnboundWith(t testing.TB, extra string, addrs ...netip.Addr) *Resolver {
	t.Helper()
	labtest.RequireTools(t, "unbound", "unbound-checkconf")
	dir := n.resolverDir(t, "unbound", addrs)
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(UnboundConfig(dir, n.Hints, addrs)+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.NS.Run(t, "unbound-checkconf", conf); err != nil {
		t.Fatalf("fakenet: %v", err)
	}
	return n.startResolver(t, "unbound", addrs, "unbound", "-d", "-c", conf)
}

// StartKresd starts one Knot Resolver process (see KresdConfig) listening
// on addrs, adding to lo those that the namespace does not have yet, and
// waits until it resolves ". NS" (at most 15 s).
func (n *Net) StartKresd(t testing.TB, addrs ...netip.Addr) *Resolver {
	t.Helper()
	return n.StartKresdWith(t, "", addrs...)
}

// StartKresdWith is StartKresd with extra (Lua) appended to the
// configuration, e.g. hints and policy rules.
func (n *Net) StartKresdWith(t testing.TB, extra string, addrs ...netip.Addr) *Resolver {
	t.Helper()
	labtest.RequireTools(t, "kresd")
	dir := n.resolverDir(t, "kresd", addrs)
	conf := filepath.Join(dir, "kresd.conf")
	if err := os.WriteFile(conf, []byte(KresdConfig(dir, n.Hints, addrs)+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return n.startResolver(t, "kresd", addrs, "kresd", "-n", "-c", conf, dir)
}

func (n *Net) resolverDir(t testing.TB, name string, addrs []netip.Addr) string {
	t.Helper()
	if len(addrs) == 0 {
		t.Fatalf("fakenet: %s needs at least one address to listen on", name)
	}
	dir := filepath.Join(n.Dir, name)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
		dir = filepath.Join(n.Dir, fmt.Sprintf("%s%d", name, i))
	}
	var batch strings.Builder
	for _, a := range addrs {
		out, err := n.NS.Run(t, "ip", "-o", "addr", "show", "to", prefix(a))
		if err != nil {
			t.Fatalf("fakenet: %v", err)
		}
		if strings.TrimSpace(out) == "" {
			fmt.Fprintf(&batch, "%s\n", loAddr(a))
		}
	}
	if batch.Len() > 0 {
		ipBatch(t, n.NS, batch.String())
	}
	return dir
}

func (n *Net) startResolver(t testing.TB, name string, addrs []netip.Addr, args ...string) *Resolver {
	t.Helper()
	r := &Resolver{Name: name, Addrs: addrs, Proc: n.NS.Start(t, args...)}
	stopOnCleanup(t, r.Proc)
	deadline := time.Now().Add(resolverTimeout)
	var last string
	for {
		select {
		case <-r.Proc.Done():
			t.Fatalf("fakenet: %s exited before answering on %s\nstderr:\n%s", name, r.Addr(), r.Proc.Stderr())
		default:
		}
		m, err := Exchange(n.NS, r.Addr(), NewQuery(".", dns.TypeNS, true), time.Second)
		if err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			return r
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("rcode %s, %d answers", dns.RcodeToString[m.Rcode], len(m.Answer))
		}
		if time.Now().After(deadline) {
			t.Fatalf("fakenet: %s on %s does not resolve \". NS\" within %v (last: %s)\nstderr:\n%s",
				name, r.Addr(), resolverTimeout, last, r.Proc.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewQuery returns a query for name and qtype with a random ID, RD as
// given and EDNS0 with a 1232-octet UDP payload size.
func NewQuery(name string, qtype uint16, rd bool) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = rd
	q.SetEdns0(1232, false)
	return q
}

// Exchange sends q to server from inside ns over UDP, again every second
// with the same ID and socket until a response comes (as stub resolvers
// do: Unbound drops replies that took longer than its discard-timeout,
// expecting the client to ask again), and returns the response, asking
// again over TCP when it is truncated. Each transport waits at most
// timeout in all.
func Exchange(ns *labtest.NS, server netip.AddrPort, q *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	m, err := exchange(ns, "udp", server, q, timeout)
	if err != nil || !m.Truncated {
		return m, err
	}
	return exchange(ns, "tcp", server, q, timeout)
}

// resend is how long a UDP query waits before it is sent again.
const resend = time.Second

func exchange(ns *labtest.NS, network string, server netip.AddrPort, q *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	c, err := ns.Dial(network, server.String())
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", network, server, err)
	}
	defer c.Close()
	co := &dns.Conn{Conn: c, UDPSize: 65535}
	deadline := time.Now().Add(timeout)
	for {
		next := deadline
		if r := time.Now().Add(resend); network == "udp" && r.Before(deadline) {
			next = r
		}
		if err := c.SetDeadline(next); err != nil {
			return nil, err
		}
		if err := co.WriteMsg(q); err != nil {
			return nil, fmt.Errorf("%s %s: %w", network, server, err)
		}
		m, err := readReply(co, q.Id)
		if err == nil {
			return m, nil
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			return nil, fmt.Errorf("%s %s: %w", network, server, err)
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%s %s: no response to %s %s within %v", network, server,
				q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], timeout)
		}
	}
}

// readReply reads from co until a response with ID id arrives, skipping
// others (over UDP: late answers to an earlier send are the same ID, and
// welcome).
func readReply(co *dns.Conn, id uint16) (*dns.Msg, error) {
	for {
		m, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if m.Id == id && m.Response {
			return m, nil
		}
		if _, stream := co.Conn.(interface{ CloseWrite() error }); stream {
			return nil, fmt.Errorf("response with ID %d to query %d", m.Id, id)
		}
	}
}
