// Command dnswait polls a DNS server until it gives the expected answer,
// then prints the wall-clock time of that answer in Unix nanoseconds. The
// load-time benchmark (bench/zoneload.sh) records the time just before it
// starts a server and subtracts.
//
// Usage: dnswait -server 198.18.0.2:53 -name h999.bench.test. -want 198.18.3.231 [-every 10ms] [-timeout 120s]
//
// It sends one A query every -every from one unconnected UDP socket (so ICMP
// errors from a server that is not up yet do not stop it) and accepts only a
// NOERROR reply to the current query ID whose answer holds -want. Exit
// status 1 when -timeout passes first.
package main

import (
	"errors"
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
		fmt.Fprintln(os.Stderr, "dnswait:", err)
		os.Exit(1)
	}
}

func run() error {
	server := flag.String("server", "", "server address:port (required)")
	name := flag.String("name", "", "name to ask for (A)")
	want := flag.String("want", "", "IPv4 address the answer must hold")
	every := flag.Duration("every", 10*time.Millisecond, "interval between queries")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after this long")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*server)
	if err != nil {
		return fmt.Errorf("-server: %w", err)
	}
	wantIP, err := netip.ParseAddr(*want)
	if err != nil || !wantIP.Is4() {
		return fmt.Errorf("-want %q: not an IPv4 address", *want)
	}
	if *name == "" {
		return errors.New("-name is required")
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(ap)
	deadline := time.Now().Add(*timeout)
	buf := make([]byte, 65535)
	var q dns.Msg
	q.SetQuestion(dns.Fqdn(*name), dns.TypeA)
	for time.Now().Before(deadline) {
		q.Id = dns.Id()
		wire, err := q.Pack()
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		conn.WriteToUDP(wire, to) // errors (no route yet, refused) just mean "not up"
		next := time.Now().Add(*every)
		conn.SetReadDeadline(next)
		for {
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				break // deadline: send again
			}
			at := time.Now()
			var r dns.Msg
			if r.Unpack(buf[:n]) != nil || r.Id != q.Id || r.Rcode != dns.RcodeSuccess {
				continue
			}
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					if got, ok := netip.AddrFromSlice(a.A.To4()); ok && got == wantIP {
						fmt.Println(at.UnixNano())
						return nil
					}
				}
			}
		}
		time.Sleep(time.Until(next))
	}
	return fmt.Errorf("no answer %s A %s from %s within %s", *name, wantIP, ap, *timeout)
}
