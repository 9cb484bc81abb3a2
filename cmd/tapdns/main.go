// Command tapdns is an authoritative DNS appliance on raw Ethernet frames: it
// attaches to a Linux TAP device, runs a userspace TCP/IP stack there with a
// static address, and answers queries from RFC 1035 zone files. The kernel's
// IP stack is never in the data path.
//
// Usage:
//
//	tapdns --tap tap0 --ip 198.18.0.2/24 --ip6 2001:2::2/64 --zone example.zone
//	tapdns check --zone example.zone
//	tapdns version
//
// SIGHUP reloads the zone files (see internal/zoneset).
//
// Exit status: 0 after SIGINT or SIGTERM, 2 for a usage or configuration
// error (including a bad zone file), 1 for a runtime error such as a TAP
// device that cannot be opened.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/metrics"
	"github.com/tapdns/tapdns/internal/pcap"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/resolver"
	"github.com/tapdns/tapdns/zone"
	"golang.org/x/sys/unix"
)

// defaultZone is served when no --zone is given.
//
//go:embed default.zone
var defaultZone []byte

const defaultOrigin = "tapdns.test."

// Exit statuses.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "version" {
		if len(args) > 1 {
			fmt.Fprintf(stderr, "tapdns: version takes no arguments\n")
			return exitUsage
		}
		fmt.Fprintln(stdout, versionString())
		return exitOK
	}
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "dig" {
		return runDig(args[1:], stdout, stderr)
	}
	cfg, err := parseConfig(args, stderr)
	if code, exit := usageExit(stderr, "tapdns", err); exit {
		return code
	}
	log := newLogger(stderr, cfg)
	var creds credentials
	if cfg.ops.user != "" {
		// Looked up before anything is opened: a typo must not leave a
		// server running as root.
		if creds, err = lookupUser(cfg.ops.user); err != nil {
			fmt.Fprintf(stderr, "tapdns: %v\n", err)
			return exitUsage
		}
	}

	// SIGHUP reloads; it is caught from here on so that an early one does
	// not kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The zones: the embedded one, or files that SIGHUP and --watch reload
	// (internal/zoneset), and the secondary zones (cmd/tapdns/xfr.go),
	// composed and installed whole with SetZones on every change.
	cfg.svc.AllowRecursion, cfg.svc.OnLink = cfg.local.allow, cfg.onLink()
	comp := newZoneComposer(log)
	xnet := &lazyNet{}
	if cfg.ops.user != "" {
		if err := prepareStateDir(cfg.xfr.xfr.StateDir, creds); err != nil {
			fmt.Fprintf(stderr, "tapdns: %v\n", err)
			return exitUsage
		}
	}
	xs, svc, err := newTransfers(&cfg, comp, xnet, log)
	if err != nil {
		fmt.Fprintf(stderr, "tapdns: %v\n", err)
		return exitUsage
	}
	mdh := cfg.mdnsHolder()
	local := &localReloader{cfg: &cfg.local, svc: svc, log: log.With("pkg", "localdata")}
	if !cfg.local.empty() {
		d, err := cfg.local.load()
		if err != nil {
			fmt.Fprintf(stderr, "tapdns: %v\n", err)
			return exitUsage
		}
		svc.SetLocal(d)
	}
	loadZone, installZones := zoneHooks(comp.installFiles)
	var zs *zoneset.Manager
	if len(cfg.zones) == 0 {
		set, err := loadZones(nil)
		if err != nil {
			fmt.Fprintf(stderr, "tapdns: %v\n", err)
			return exitUsage
		}
		comp.installFiles(set)
	} else if zs, err = zoneset.New(cfg.zones, loadZone, mdh.onInstall(installZones, log), log.With("pkg", "zoneset")); err != nil {
		fmt.Fprintf(stderr, "tapdns: %v\n", err)
		return exitUsage
	}
	if err := checkSecondaryConflicts(cfg.xfr.xfr, comp.files); err != nil {
		fmt.Fprintf(stderr, "tapdns: %v\n", err)
		return exitUsage
	}
	set := svc.Zones()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var qlog *queryLog
	if cfg.ops.logQueries {
		qlog = newQueryLog(log.With("pkg", "querylog"))
	}
	h := newHandler(svc, qlog)
	// Everything that may need root is opened before --user takes effect:
	// the pcap file, the TAP and the metrics listener. The capture is
	// opened first so that it holds every frame the stack sends.
	var pw *pcap.Async
	if cfg.ops.pcap != "" {
		if pw, err = openPcap(cfg.ops.pcap, cfg.ops.pcapMax); err != nil {
			log.Error("cannot start", "err", err)
			return exitRuntime
		}
		cfg.net.Capture = pw
		log.Info("capturing frames", "file", cfg.ops.pcap, "max_bytes", cfg.ops.pcapMax)
	}
	st, err := netstack.New(cfg.net, h, log.With("pkg", "netstack"))
	if err != nil {
		log.Error("cannot start the network stack", "tap", cfg.net.TAP, "xdp", cfg.net.XDP, "err", err)
		closeOps(nil, pw, nil, log)
		return exitRuntime
	}
	xnet.set(st)
	// Everything below is stopped by teardown, in the reverse order of
	// starting, whichever part exists.
	var (
		rec       *resolver.Server
		recursion dnssvc.Recursion // rec, or nil
		md        *mdnsRunner
		tcpSrv    *dnstcp.Server
		ms        *metrics.Server
	)
	svcCtx, svcCancel := context.WithCancel(ctx)
	var svcWG sync.WaitGroup
	teardown := func() error {
		if tcpSrv != nil {
			_ = tcpSrv.Close()
		}
		md.stop() // its goodbyes go out while the stack is still open
		svcCancel()
		if rec != nil {
			rec.Close()
		}
		svcWG.Wait()
		err := st.Close()
		closeOps(st, pw, ms, log)
		return err
	}
	fail := func(what string, err error) int {
		log.Error(what, "err", err)
		_ = teardown()
		return exitRuntime
	}
	if cfg.resolve.enabled {
		if rec, err = startResolver(cfg, st, log.With("pkg", "resolver")); err != nil {
			return fail("cannot start the resolver", err)
		}
		recursion = rec
		svcWG.Add(1)
		go func() {
			defer svcWG.Done()
			if err := rec.Run(svcCtx); err != nil {
				log.Error("resolver stopped", "err", err)
			}
		}()
	}
	if md, err = newMDNS(cfg, st, svc.Zones(), mdh, log.With("pkg", "mdns")); err != nil {
		return fail("cannot start mDNS", err)
	}
	svc.SetRecursion(recursion, md.gateway())
	if tcpSrv, err = serveTCP(cfg, st, h, log.With("pkg", "dnstcp")); err != nil {
		return fail("cannot start", err)
	}
	if ms, err = openMetrics(cfg, st, svc, tcpSrv, qlog, zs, pw, rec, md.stats(), xs, log); err != nil {
		return fail("cannot start", err)
	}
	if cfg.ops.user != "" {
		if err := dropPrivileges(creds); err != nil {
			return fail("cannot drop privileges", err)
		}
		log.Info("dropped privileges", "user", creds.name, "uid", creds.uid, "gid", creds.gid, "groups", creds.groups)
	}
	if ms != nil {
		ms.Serve()
		log.Info("serving metrics", "url", "http://"+ms.Addr().String()+"/metrics")
	}
	if qlog != nil {
		qlog.start(svcCtx)
	}
	hp := startHelpers(ctx, cfg, zs, local, pw, hup, log)
	logStartup(log, cfg, set)
	md.start(svcCtx, log.With("pkg", "mdns"))
	if xs != nil {
		logTransfers(log, cfg.xfr.xfr)
		svcWG.Add(1)
		go func() {
			defer svcWG.Done()
			_ = xs.Run(svcCtx) // secondaries, catalogs, NOTIFY (xfr.go)
		}()
	}

	runErr := st.Run(ctx)
	hp.Stop()
	closeErr := teardown()
	if qlog != nil {
		qlog.stop()
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		log.Error("network stack failed", "err", runErr)
		return exitRuntime
	}
	if closeErr != nil {
		log.Error("shutdown", "err", closeErr)
		return exitRuntime
	}
	log.Info("stopped", "stats", st.Stats(), "tcp", tcpSrv.Stats())
	return exitOK
}

// serveTCP serves DNS over TCP on the stack's port: on its IPv4 address
// when it has one, and on every IPv6 address (the link-local one is always
// there).
func serveTCP(cfg config, st *netstack.Stack, h *handler, log *slog.Logger) (*dnstcp.Server, error) {
	srv, err := dnstcp.New(cfg.tcp, h, log)
	if err != nil {
		return nil, err
	}
	addrs := []netip.Addr{netip.IPv6Unspecified()}
	if cfg.net.Addr.IsValid() {
		addrs = append(addrs, netip.IPv4Unspecified())
	}
	for _, a := range addrs {
		ln, err := st.ListenTCP(netip.AddrPortFrom(a, cfg.net.Port))
		if err == nil {
			err = srv.Serve(ln)
		}
		if err != nil {
			srv.Close()
			return nil, err
		}
	}
	return srv, nil
}

// loadZones loads the zone files, or the embedded zone when there are none,
// into one set. Its errors name the file and line.
func loadZones(files []string) (*zone.Set, error) {
	if len(files) == 0 {
		z, err := zone.Parse(bytes.NewReader(defaultZone), "", defaultOrigin)
		if err != nil {
			return nil, fmt.Errorf("embedded zone: %w", err)
		}
		return zone.NewSet(z)
	}
	zones := make([]*zone.Zone, 0, len(files))
	for _, f := range files {
		z, err := zoneset.Load(f)
		if err != nil {
			return nil, err
		}
		zones = append(zones, z)
	}
	return zone.NewSet(zones...)
}

func newLogger(w io.Writer, cfg config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logStartup writes the one line that says what is being served where.
func logStartup(log *slog.Logger, cfg config, set *zone.Set) {
	n := cfg.net
	attrs := []any{"tap", n.TAP}
	if n.XDP != "" {
		attrs = []any{"xdp", n.XDP} // MTU 0: the interface's
	}
	attrs = append(attrs, "port", n.Port, "queues", n.Queues, "fastpath", n.FastPath, "mtu", n.MTU,
		"udp_size", cfg.svc.UDPSize, "chaos", cfg.svc.Chaos, "rrl", cfg.svc.RRL, "rrl_slip", cfg.svc.RRLSlip,
		"tcp_idle_timeout", cfg.tcp.IdleTimeout.String(), "tcp_max_conns", cfg.tcp.MaxConns, "tcp_max_queries", cfg.tcp.MaxQueries)
	if n.MAC != nil {
		attrs = append(attrs, "mac", n.MAC.String())
	}
	if n.Addr.IsValid() {
		attrs = append(attrs, "ip", n.Addr.String())
	}
	if n.Gateway.IsValid() {
		attrs = append(attrs, "gateway", n.Gateway.String())
	}
	if n.Addr6.IsValid() {
		attrs = append(attrs, "ip6", n.Addr6.String())
	}
	if n.Gateway6.IsValid() {
		attrs = append(attrs, "gateway6", n.Gateway6.String())
	}
	var zones []string
	for _, z := range set.Zones() {
		file := z.File
		if file == "" {
			file = "(embedded)"
		}
		zones = append(zones, fmt.Sprintf("%s serial %d from %s", zone.NameText(z.Origin), z.Serial, file))
	}
	attrs = append(attrs, "zones", zones)
	switch r := cfg.resolve; {
	case len(r.forward) > 0:
		attrs = append(attrs, "recursion", "forward", "forwarders", r.forward)
	case r.enabled:
		hints := r.rootHints
		if hints == "" {
			hints = "(IANA, built in)"
		}
		attrs = append(attrs, "recursion", "resolve", "root_hints", hints)
	default:
		attrs = append(attrs, "recursion", "off")
	}
	if r := cfg.resolve; r.enabled {
		attrs = append(attrs, "allow_recursion", cfg.local.allow, "cache_size", r.cache.MaxBytes)
	}
	log.Info("serving", attrs...)
}

// versionString reports the module version and VCS revision the binary was
// built from, as far as the build recorded them.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "tapdns (unknown version)"
	}
	v := "tapdns " + bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += "+dirty"
			}
		}
	}
	return v + " " + bi.GoVersion
}

// loadGCPercent is the garbage collector's target while a zone file is
// parsed. The parser leaves about as much garbage as the zone it builds;
// at Go's default (100) the heap may grow to twice what is live before a
// collection, and during a reload the old zones are live too. A tighter
// target costs some CPU during loads and keeps the peak near what is live.
const loadGCPercent = 25

// loadLean loads one zone (--zone FILE or ORIGIN=FILE) with the tighter
// GC target.
//
// It also keeps the parse from delaying answers. A zone parse is one
// CPU-bound goroutine; with GOMAXPROCS=1 (tapdns pinned to one core, as on
// a small appliance) the goroutines that answer queries would wait for it
// to be preempted, every 10 ms or so, and a reload would show as tens of
// milliseconds of query latency. So the runtime gets one more P while it
// parses, and the parse runs on an OS thread of its own at the lowest CPU
// priority (nice 19): when a frame arrives, the kernel runs the thread
// that answers it first.
func loadLean(arg string) (*zone.Zone, error) {
	old := debug.SetGCPercent(loadGCPercent)
	defer debug.SetGCPercent(old)
	defer extraP()()
	var (
		z    *zone.Zone
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		// Never unlocked: the thread ends with this goroutine, and its
		// priority with it, so no thread at nice 19 goes back to the
		// runtime (raising nice needs no privilege; lowering it back
		// would).
		runtime.LockOSThread()
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19) // best effort: only latency depends on it
		z, err = zoneset.Load(arg)
	}()
	<-done
	return z, err
}

// extraP raises GOMAXPROCS by one and returns the function that puts it
// back: to the runtime's default (which follows CPU affinity and cgroup
// limits) unless the GOMAXPROCS environment variable fixed it. Zone loads
// are serialised by the zoneset manager, so calls do not overlap.
func extraP() func() {
	n := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n + 1)
	return func() {
		if os.Getenv("GOMAXPROCS") == "" {
			runtime.SetDefaultGOMAXPROCS()
			return
		}
		runtime.GOMAXPROCS(n)
	}
}

// installLean returns the zoneset install hook: install the set, then hand
// the memory of the parse (and of the set replaced) back to the OS, so that
// the resident size after a load or reload is what is live.
func installLean(install func(*zone.Set)) func(*zone.Set) {
	return func(set *zone.Set) {
		install(set)
		debug.FreeOSMemory()
	}
}

// zoneHooks returns the zoneset loader and install hook: loadLean and
// installLean around install, or plain zoneset.Load and install when the
// environment
// variable TAPDNS_LEAN_RELOAD is "0". That switch is for measurement only
// (bench/reload-latency.sh compares the two under load) and not part of
// the interface.
func zoneHooks(install func(*zone.Set)) (zoneset.Loader, func(*zone.Set)) {
	if os.Getenv("TAPDNS_LEAN_RELOAD") == "0" {
		return zoneset.Load, install
	}
	return loadLean, installLean(install)
}
