package main

// Recursion: --resolve (iteration from the root hints) or --forward
// (upstream resolvers), the cache they share, and their wiring to the
// stack (package resolver, package cache).

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/resolver"
)

// resolveConfig is what the recursion flags say; enabled is false for an
// authoritative-only server.
type resolveConfig struct {
	enabled   bool
	forward   []netip.AddrPort // forwarding mode when non-empty
	rootHints string           // file; "" for the IANA hints built in
	hints     []resolver.Hint  // read from rootHints at parse time
	cache     cache.Config
}

type resolveFlags struct {
	resolve    *bool
	forward    listFlag
	rootHints  *string
	cacheSize  *string
	maxTTL     *time.Duration
	minTTL     *time.Duration
	serveStale *time.Duration
}

// defaultCacheSize is --cache-size's default.
const defaultCacheSize = 64 << 20

func addResolveFlags(fs *flag.FlagSet) *resolveFlags {
	f := &resolveFlags{
		resolve:    fs.Bool("resolve", false, "resolve names outside the local data and zones iteratively from the root hints (a recursive resolver)"),
		rootHints:  fs.String("root-hints", "", "root hints `file` (root.hints format) for --resolve; default: the IANA root servers built in"),
		cacheSize:  fs.String("cache-size", "64MiB", "most memory for the resolver cache, in `bytes` (suffixes KiB, MiB, GiB, K, M, G)"),
		maxTTL:     fs.Duration("cache-max-ttl", 24*time.Hour, "cap the TTL of cached answers at this `duration`"),
		minTTL:     fs.Duration("cache-min-ttl", 0, "raise shorter TTLs of cached answers to this `duration`"),
		serveStale: fs.Duration("serve-stale", 0, "serve expired answers for up to this `duration` when fresh ones cannot be had (RFC 8767); 0: off"),
	}
	fs.Var(&f.forward, "forward", "forward names outside the local data and zones to this resolver `ADDR[:PORT]` (repeatable; exclusive with --resolve)")
	return f
}

func (f *resolveFlags) parse(c *config) error {
	r := resolveConfig{enabled: *f.resolve || len(f.forward) > 0, rootHints: *f.rootHints}
	if *f.resolve && len(f.forward) > 0 {
		return usagef("--resolve and --forward exclude each other: iterate from the root, or forward to resolvers")
	}
	for _, s := range f.forward {
		ap, err := parseHostPort(s, 53)
		if err != nil {
			return usagef("--forward %q: %v", s, err)
		}
		if ap.Addr().Is4() && !c.net.Addr.IsValid() || ap.Addr().Is6() && !c.net.Addr6.IsValid() {
			return usagef("--forward %v: no local address of its family (--ip or --ip6)", ap)
		}
		r.forward = append(r.forward, ap)
	}
	if r.rootHints != "" {
		if !*f.resolve {
			return usagef("--root-hints needs --resolve")
		}
		h, err := resolver.LoadRootHints(r.rootHints)
		if err != nil {
			return usagef("--root-hints: %v", err)
		}
		r.hints = h
	}
	size, err := parseBytes(*f.cacheSize)
	if err != nil {
		return usagef("--cache-size %q: %v", *f.cacheSize, err)
	}
	r.cache = cache.Config{MaxBytes: size, MaxTTL: *f.maxTTL, MinTTL: *f.minTTL, ServeStale: *f.serveStale}
	if *f.maxTTL < time.Second {
		return usagef("--cache-max-ttl %v: at least 1s", *f.maxTTL)
	}
	if *f.serveStale < 0 {
		return usagef("--serve-stale %v: must not be negative (0: off)", *f.serveStale)
	}
	if err := r.cache.Validate(); err != nil {
		return usageError{err}
	}
	c.resolve = r
	if r.enabled {
		// The resolver's own checks, on what the flags say.
		rc := r.resolverConfig(nil, c.net)
		rc.Network = noNetwork{}
		if err := rc.Validate(); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// resolverConfig is the resolver's configuration on the stack n.
func (r *resolveConfig) resolverConfig(n resolver.Network, nc netstack.Config) resolver.Config {
	return resolver.Config{
		Network: n, Forward: r.forward, RootHints: r.hints,
		DisableIPv4: !nc.Addr.IsValid(), DisableIPv6: !nc.Addr6.IsValid(),
	}
}

// noNetwork stands for the stack while the configuration is only checked.
type noNetwork struct{ resolver.Network }

// startResolver makes the cache and the resolver on st.
func startResolver(c config, st *netstack.Stack, log *slog.Logger) (*resolver.Server, error) {
	ch, err := cache.New(c.resolve.cache)
	if err != nil {
		return nil, err
	}
	rc := c.resolve.resolverConfig(st, c.net)
	rc.Cache = ch
	return resolver.New(rc, log)
}

// parseHostPort parses ADDR, ADDR:PORT or [ADDR6]:PORT.
func parseHostPort(s string, defPort uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("port 0")
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("want ADDR or ADDR:PORT (an IPv6 address with a port in brackets)")
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("not a unicast address")
	}
	return netip.AddrPortFrom(a.Unmap(), defPort), nil
}

// parseBytes parses a size with an optional binary (KiB, MiB, GiB) or
// decimal-looking (K, M, G: also powers of 1024, as in most tools) suffix.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive number of bytes, e.g. 64MiB")
	}
	if n > (1<<50)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}
