// Command xdpreflect is the AF_XDP ceiling for the tapdns benchmarks: it
// attaches to an interface through package netstack/xdp (the XDP program
// and rings tapdns --xdp uses), answers ARP for its address and bounces
// every IPv4 UDP/53 frame to that address back with the smallest rewrite
// (see package reflector). Frames for other addresses go to the kernel.
//
// Usage: xdpreflect -iface IFACE [-ip 198.18.0.2] [-queues 1] [-mode auto]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/tapdns/tapdns/bench/reflector"
	"github.com/tapdns/tapdns/netstack/xdp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xdpreflect:", err)
		os.Exit(1)
	}
}

func run() error {
	iface := flag.String("iface", "", "interface to attach to (required)")
	ipStr := flag.String("ip", "198.18.0.2", "IPv4 address to answer for")
	queues := flag.Int("queues", 1, "RX queues, one socket and goroutine each")
	modeStr := flag.String("mode", "auto", "XDP mode: auto, native or generic")
	flag.Parse()
	if *iface == "" {
		return fmt.Errorf("-iface is required")
	}
	ip, err := netip.ParseAddr(*ipStr)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("-ip %q: not an IPv4 address", *ipStr)
	}
	var mode xdp.Mode
	switch *modeStr {
	case "auto":
	case "native":
		mode = xdp.ModeNative
	case "generic":
		mode = xdp.ModeGeneric
	default:
		return fmt.Errorf("-mode %q: want auto, native or generic", *modeStr)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	lk, err := xdp.Open(xdp.Config{Interface: *iface, Queues: *queues, Mode: mode, Addrs: []netip.Addr{ip}}, log)
	if err != nil {
		return err
	}
	defer lk.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	zc := lk.Sockets()[0].ZeroCopy()
	fmt.Fprintf(os.Stderr, "xdpreflect: %s ip %s mac %s mode %s zerocopy %v queues %d\n", *iface, ip, lk.MAC(), lk.Mode(), zc, *queues)
	r := reflector.New(ip, lk.MAC())
	var c reflector.Counters
	var wg sync.WaitGroup
	errs := make([]error, len(lk.Sockets()))
	for i, s := range lk.Sockets() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = r.ServeXDP(ctx, s, &c); errs[i] != nil {
				stop()
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "xdpreflect: rx %d tx %d dropped %d kick-errors %d\n",
		c.RX.Load(), c.TX.Load(), c.Dropped.Load(), c.WriteErrors.Load())
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
