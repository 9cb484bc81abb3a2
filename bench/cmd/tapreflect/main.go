// Command tapreflect is the Go bare-TAP ceiling for the tapdns benchmarks:
// it attaches to an existing TAP, answers ARP for its address and bounces
// every IPv4 UDP/53 frame to that address back with the smallest in-place
// rewrite (see package reflector). The TAP fd stays non-blocking and is
// read through Go's runtime poller.
//
// Usage: tapreflect -tap TAP [-ip 198.18.0.2] [-mac 02:00:c6:12:00:01]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/tapdns/tapdns/bench/reflector"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tapreflect:", err)
		os.Exit(1)
	}
}

func run() error {
	tapName := flag.String("tap", "", "existing TAP device to attach to (required)")
	ipStr := flag.String("ip", "198.18.0.2", "IPv4 address to answer for")
	macStr := flag.String("mac", "02:00:c6:12:00:01", "Ethernet address to answer with")
	flag.Parse()
	if *tapName == "" {
		return fmt.Errorf("-tap is required")
	}
	ip, err := netip.ParseAddr(*ipStr)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("-ip %q: not an IPv4 address", *ipStr)
	}
	mac, err := net.ParseMAC(*macStr)
	if err != nil || len(mac) != 6 {
		return fmt.Errorf("-mac %q: not an Ethernet address", *macStr)
	}
	tap, err := reflector.OpenTAP(*tapName)
	if err != nil {
		return err
	}
	defer tap.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "tapreflect-go: %s ip %s mac %s (O_NONBLOCK via runtime poller)\n", *tapName, ip, mac)
	var c reflector.Counters
	err = reflector.New(ip, mac).Serve(ctx, tap, &c)
	fmt.Fprintf(os.Stderr, "tapreflect-go: rx %d tx %d dropped %d write-errors %d\n",
		c.RX.Load(), c.TX.Load(), c.Dropped.Load(), c.WriteErrors.Load())
	return err
}
