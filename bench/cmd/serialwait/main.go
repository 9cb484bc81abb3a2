// Command serialwait polls several DNS servers until each serves a zone at
// a given serial (or a newer one), then prints one line per server: its
// address and the wall-clock time, in Unix nanoseconds, of the first such
// answer. The fleet benchmark (bench/fleet.sh) records the time just
// before the primary reloads and subtracts.
//
// Usage: serialwait -zone bench.test. -serial 2 [-every 5ms] [-timeout 60s] ADDR:PORT...
//
// It sends an SOA query to every server not yet done each -every, from one
// unconnected UDP socket (ICMP errors from a server not up yet do not stop
// it), and accepts a NOERROR answer to the server's current query ID whose
// SOA serial is -serial or later (RFC 1982). Exit status 1 when -timeout
// passes before every server is done; the servers that were are printed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serialwait:", err)
		os.Exit(1)
	}
}

func run() error {
	zone := flag.String("zone", "", "zone name (required)")
	serial := flag.Uint("serial", 0, "the serial to wait for")
	every := flag.Duration("every", 5*time.Millisecond, "interval between queries to one server")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if *zone == "" || flag.NArg() == 0 {
		return fmt.Errorf("usage: serialwait -zone Z -serial N ADDR:PORT...")
	}
	type server struct {
		addr *net.UDPAddr
		id   uint16
		done bool
	}
	var servers []*server
	byAddr := map[netip.AddrPort]*server{}
	for _, a := range flag.Args() {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return fmt.Errorf("%q: %w", a, err)
		}
		s := &server{addr: net.UDPAddrFromAddrPort(ap)}
		servers = append(servers, s)
		byAddr[ap] = s
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	want := uint32(*serial)
	deadline := time.Now().Add(*timeout)
	buf := make([]byte, 65535)
	left := len(servers)
	for left > 0 && time.Now().Before(deadline) {
		for _, s := range servers {
			if s.done {
				continue
			}
			var q dns.Msg
			q.SetQuestion(dns.Fqdn(*zone), dns.TypeSOA)
			s.id = q.Id
			wire, err := q.Pack()
			if err != nil {
				return err
			}
			conn.WriteToUDP(wire, s.addr) // errors just mean "not up yet"
		}
		next := time.Now().Add(*every)
		conn.SetReadDeadline(next)
		for left > 0 {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			at := time.Now()
			s := byAddr[netip.AddrPortFrom(from.Addr().Unmap(), from.Port())]
			var r dns.Msg
			if s == nil || s.done || r.Unpack(buf[:n]) != nil || r.Id != s.id || r.Rcode != dns.RcodeSuccess {
				continue
			}
			for _, rr := range r.Answer {
				if soa, ok := rr.(*dns.SOA); ok && (soa.Serial == want || soa.Serial-want < 1<<31) {
					s.done = true
					left--
					fmt.Println(s.addr.AddrPort(), at.UnixNano())
					break
				}
			}
		}
		time.Sleep(time.Until(next))
	}
	if left > 0 {
		return fmt.Errorf("%d of %d servers did not serve %s at serial %d within %s", left, len(servers), *zone, want, *timeout)
	}
	return nil
}
