package main

// The operating side of tapdns: zone reloads, metrics, packet capture, the
// query log and dropping privileges. main.go calls these in order; each
// piece lives in its own package or file so that it can be tested alone.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/metrics"
	"github.com/tapdns/tapdns/internal/pcap"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/mdns"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/resolver"
	"github.com/tapdns/tapdns/xfr"
)

// opsConfig holds the operating flags.
type opsConfig struct {
	watch         bool
	watchInterval time.Duration
	metrics       string // host:port; "" for none
	pcap          string // file; "" for none
	pcapMax       int64
	logQueries    bool
	user          string // "" keeps the current user
}

// opsFlags are the flag values before validation.
type opsFlags struct {
	watch         *bool
	watchInterval *time.Duration
	metrics       *string
	pcap          *string
	pcapMax       *int64
	logQueries    *bool
	user          *string
}

// defaultPcapMax is --pcap-max-bytes's default.
const defaultPcapMax = 100 << 20

func addOpsFlags(fs *flag.FlagSet) *opsFlags {
	return &opsFlags{
		watch:         fs.Bool("watch", false, "reload the zones when a zone file changes (polled; see --watch-interval), as well as on SIGHUP"),
		watchInterval: fs.Duration("watch-interval", time.Second, "how often --watch checks the zone files (100ms to 1h)"),
		metrics:       fs.String("metrics", "", "serve Prometheus metrics on http://`host:port`/metrics over the kernel's network (e.g. 127.0.0.1:9153); none when empty"),
		pcap:          fs.String("pcap", "", "write every frame in and out of the TAP to this pcap `file` (truncated at start)"),
		pcapMax:       fs.Int64("pcap-max-bytes", defaultPcapMax, "stop writing --pcap when the file reaches this many `bytes`"),
		logQueries:    fs.Bool("log-queries", false, "log one line per query at level info (client, name, type, rcode, size, transport, path)"),
		user:          fs.String("user", "", "after opening the TAP, the metrics listener and the pcap file, switch to this user `name` (or uid) and its groups"),
	}
}

func (f *opsFlags) parse(c *config) error {
	o := opsConfig{
		watch: *f.watch, watchInterval: *f.watchInterval, metrics: *f.metrics,
		pcap: *f.pcap, pcapMax: *f.pcapMax, logQueries: *f.logQueries, user: *f.user,
	}
	if o.watchInterval < zoneset.MinWatchInterval || o.watchInterval > zoneset.MaxWatchInterval {
		return usagef("--watch-interval %v: must be between %v and %v", o.watchInterval, zoneset.MinWatchInterval, zoneset.MaxWatchInterval)
	}
	if o.pcapMax < 1<<10 {
		return usagef("--pcap-max-bytes %d: must be at least 1024", o.pcapMax)
	}
	if o.metrics != "" {
		if _, _, err := splitHostPort(o.metrics); err != nil {
			return usagef("--metrics %q: want host:port, e.g. 127.0.0.1:9153 (%v)", o.metrics, err)
		}
	}
	c.ops = o
	return nil
}

func splitHostPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}

// credentials are the ids --user switches to.
type credentials struct {
	name     string
	uid, gid int
	groups   []int
}

// lookupUser resolves --user (a name, or a numeric uid) and its groups.
func lookupUser(name string) (credentials, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return credentials{}, fmt.Errorf("--user %s: %w", name, err)
	}
	cr := credentials{name: u.Username}
	if cr.uid, err = strconv.Atoi(u.Uid); err != nil {
		return credentials{}, fmt.Errorf("--user %s: uid %q: %w", name, u.Uid, err)
	}
	if cr.gid, err = strconv.Atoi(u.Gid); err != nil {
		return credentials{}, fmt.Errorf("--user %s: gid %q: %w", name, u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return credentials{}, fmt.Errorf("--user %s: groups: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return credentials{}, fmt.Errorf("--user %s: group id %q: %w", name, g, err)
		}
		cr.groups = append(cr.groups, n)
	}
	if len(cr.groups) == 0 {
		cr.groups = []int{cr.gid}
	}
	return cr, nil
}

// dropPrivileges switches every thread of the process to cr: supplementary
// groups, then gid, then uid (after which the first two are no longer
// allowed). On Linux Go's syscall versions apply to all threads. Switching
// to the user we already are is allowed.
func dropPrivileges(cr credentials) error {
	if err := syscall.Setgroups(cr.groups); err != nil {
		return fmt.Errorf("--user %s: setgroups: %w", cr.name, err)
	}
	if err := syscall.Setgid(cr.gid); err != nil {
		return fmt.Errorf("--user %s: setgid %d: %w", cr.name, cr.gid, err)
	}
	if err := syscall.Setuid(cr.uid); err != nil {
		return fmt.Errorf("--user %s: setuid %d: %w", cr.name, cr.uid, err)
	}
	// A root uid can get everything back; refuse to claim a drop that did
	// not happen.
	if cr.uid != 0 && (os.Geteuid() == 0 || os.Getuid() == 0) {
		return fmt.Errorf("--user %s: still root after setuid", cr.name)
	}
	return nil
}

// openPcap creates the capture file and puts it behind a bounded buffer
// written by its own goroutine (pcap.Async), so that the TAP readers never
// wait for the disk: a frame that finds the buffer full is dropped and
// counted.
func openPcap(path string, limit int64) (*pcap.Async, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	w, err := pcap.NewWriter(f, 0, limit)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--pcap %s: %w", path, err)
	}
	// Flushing a few times a second keeps the file readable while tapdns
	// runs without a write per frame.
	return pcap.NewAsync(w, 0, 250*time.Millisecond), nil
}

// helpers runs the background goroutines of a running server (SIGHUP
// reloads, the zone watcher, the pcap flusher) and waits for them in Stop.
type helpers struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// startHelpers starts what cfg asks for. zs is nil for the embedded zone;
// pw is nil without --pcap.
func startHelpers(ctx context.Context, cfg config, zs *zoneset.Manager, local *localReloader, pw *pcap.Async, hup <-chan os.Signal, log *slog.Logger) *helpers {
	ctx, cancel := context.WithCancel(ctx)
	h := &helpers{cancel: cancel}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if !cfg.local.empty() {
				local.reload("SIGHUP")
			}
			if zs == nil {
				log.Info("SIGHUP: serving the embedded zone; no zone to reload")
				continue
			}
			log.Info("SIGHUP: reloading zones")
			_ = zs.Reload() // logs its own errors
		}
	}()
	if cfg.ops.watch && zs != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			zs.Watch(ctx, cfg.ops.watchInterval, zoneset.DefaultDebounce)
		}()
	}
	if cfg.ops.watch && len(cfg.local.files()) > 0 {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			local.watch(ctx, cfg)
		}()
	}
	if pw != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			// The capture writes itself; this only says when it stopped.
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if st := pw.Stats(); st.LimitHit {
					log.Warn("pcap size limit reached; capture stopped", "file", cfg.ops.pcap, "max_bytes", cfg.ops.pcapMax, "packets", st.Packets)
					return
				}
			}
		}()
	}
	return h
}

// Stop stops the helpers and waits for them. It is idempotent.
func (h *helpers) Stop() {
	h.cancel()
	h.wg.Wait()
}

// openMetrics binds the metrics listener, as cfg asks (nil without
// --metrics). pw is the capture (nil without --pcap).
func openMetrics(cfg config, st *netstack.Stack, svc *dnssvc.Server, tcp *dnstcp.Server, qlog *queryLog, zs *zoneset.Manager, pw *pcap.Async, rec *resolver.Server, mdnsStats func() mdns.Stats, xs *xfr.Service, log *slog.Logger) (*metrics.Server, error) {
	if cfg.ops.metrics == "" {
		return nil, nil
	}
	version, revision, goVersion := buildInfo()
	src := metrics.Sources{
		DNS: svc.Stats, Requests: svc.RequestStats, Net: st.Stats, Fast: st.FastPathStats, XDP: st.XDPStats, TCP: tcp.Stats, Zones: svc.Zones,
		Version: version, Revision: revision, GoVersion: goVersion,
	}
	if qlog != nil {
		src.QueryLogDropped = qlog.Dropped
	}
	if rec != nil {
		src.Resolver = rec.Stats
	}
	if zs != nil {
		src.Reloads = zs.Stats
	}
	if pw != nil {
		src.Capture = pw.Stats
	}
	src.MDNS = mdnsStats
	if xs != nil {
		src.Transfers = xs.Stats
	}
	reg, err := metrics.NewRegistry(src)
	if err != nil {
		return nil, err
	}
	return metrics.Listen(cfg.ops.metrics, reg, log.With("pkg", "metrics"))
}

// closeOps stops the metrics server and the capture (either may be nil;
// st is nil when the stack was never made).
func closeOps(st *netstack.Stack, pw *pcap.Async, ms *metrics.Server, log *slog.Logger) {
	if ms != nil {
		if err := ms.Close(); err != nil {
			log.Warn("metrics server shutdown", "err", err)
		}
	}
	if pw != nil {
		if st != nil {
			st.SetCapture(nil)
		}
		if err := pw.Close(); err != nil {
			log.Error("pcap file", "err", err)
		}
		ps := pw.Stats()
		log.Info("capture closed", "packets", ps.Packets, "bytes", ps.Bytes, "not_written", ps.Dropped)
	}
}

// buildInfo returns the module version, VCS revision and Go version the
// binary was built with, as far as the build recorded them.
func buildInfo() (version, revision, goVersion string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", "", runtime.Version()
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return bi.Main.Version, revision, bi.GoVersion
}
