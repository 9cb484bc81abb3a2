package main

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/resolver"
)

// hintsFile writes a root hints file for a lab root and returns its path.
func hintsFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "root.hints")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const labHints = `; a lab root
.                   3600000  NS  a.root.lab.
a.root.lab.         3600000  A   198.19.0.1
a.root.lab.         3600000  AAAA 2001:2:0:100::1
`

func TestParseResolveFlags(t *testing.T) {
	hints := hintsFile(t, labHints)
	defCache := cache.Config{MaxBytes: 64 << 20, MaxTTL: 24 * time.Hour}
	tests := []struct {
		name string
		args []string
		want resolveConfig
	}{
		{"authoritative only", nil, resolveConfig{cache: defCache}},
		{"resolve with the IANA hints", []string{"--resolve"}, resolveConfig{enabled: true, cache: defCache}},
		{"resolve with lab hints", []string{"--resolve", "--root-hints", hints}, resolveConfig{enabled: true, rootHints: hints,
			hints: []resolver.Hint{{Name: "a.root.lab.", Addrs: []netip.Addr{netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("2001:2:0:100::1")}}},
			cache: defCache}},
		{"forward, default port", []string{"--forward", "198.18.0.53"}, resolveConfig{enabled: true,
			forward: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.53:53")}, cache: defCache}},
		{"forward twice, ports and IPv6", []string{"--ip6", "2001:2::2", "--forward", "198.18.0.53:5353", "--forward", "[2001:2::53]:53", "--forward", "2001:2::54"},
			resolveConfig{enabled: true, forward: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.53:5353"),
				netip.MustParseAddrPort("[2001:2::53]:53"), netip.MustParseAddrPort("[2001:2::54]:53")}, cache: defCache}},
		{"forward v4-mapped", []string{"--forward", "::ffff:198.18.0.53"}, resolveConfig{enabled: true,
			forward: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.53:53")}, cache: defCache}},
		{"cache flags", []string{"--resolve", "--cache-size", "512MiB", "--cache-max-ttl", "1h", "--cache-min-ttl", "30s", "--serve-stale", "24h"},
			resolveConfig{enabled: true, cache: cache.Config{MaxBytes: 512 << 20, MaxTTL: time.Hour, MinTTL: 30 * time.Second, ServeStale: 24 * time.Hour}}},
		{"cache size suffixes", []string{"--cache-size", "2G"}, resolveConfig{cache: cache.Config{MaxBytes: 2 << 30, MaxTTL: 24 * time.Hour}}},
		{"cache size in bytes", []string{"--cache-size", "1048576"}, resolveConfig{cache: cache.Config{MaxBytes: 1 << 20, MaxTTL: 24 * time.Hour}}},
		{"cache size K", []string{"--cache-size", "4096K"}, resolveConfig{cache: cache.Config{MaxBytes: 4 << 20, MaxTTL: 24 * time.Hour}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(append([]string{"--ip", "198.18.0.2"}, tc.args...), io.Discard)
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tc.args, err)
			}
			if !reflect.DeepEqual(c.resolve, tc.want) {
				t.Errorf("parseConfig(%q).resolve =\n%+v\nwant\n%+v", tc.args, c.resolve, tc.want)
			}
		})
	}
}

func TestParseResolveFlagErrors(t *testing.T) {
	dir := t.TempDir()
	badHints := hintsFile(t, ".  3600000 NS a.root.lab.\n") // no address for the NS
	tests := []struct {
		name string
		args []string
		want string // a substring of the error
	}{
		{"resolve and forward", []string{"--resolve", "--forward", "198.18.0.53"}, "--resolve and --forward exclude each other"},
		{"root hints without resolve", []string{"--root-hints", hintsFile(t, labHints)}, "--root-hints needs --resolve"},
		{"root hints with forward", []string{"--forward", "198.18.0.53", "--root-hints", hintsFile(t, labHints)}, "--root-hints needs --resolve"},
		{"root hints missing", []string{"--resolve", "--root-hints", filepath.Join(dir, "nope")}, "--root-hints: root hints: open"},
		{"root hints without addresses", []string{"--resolve", "--root-hints", badHints}, badHints},
		{"forward garbage", []string{"--forward", "resolver.lab"}, `--forward "resolver.lab": want ADDR or ADDR:PORT`},
		{"forward empty", []string{"--forward", ""}, "empty value"},
		{"forward port 0", []string{"--forward", "198.18.0.53:0"}, "port 0"},
		{"forward bad port", []string{"--forward", "198.18.0.53:65536"}, "want ADDR or ADDR:PORT"},
		{"forward unspecified", []string{"--forward", "0.0.0.0"}, "not a unicast address"},
		{"forward multicast", []string{"--forward", "224.0.0.251"}, "not a unicast address"},
		{"forward v6 without ip6", []string{"--forward", "2001:2::53"}, "no local address of its family"},
		{"forward v6 zone", []string{"--ip6", "2001:2::2", "--forward", "fe80::1%tap0"}, "want ADDR or ADDR:PORT"},
		{"cache size zero", []string{"--resolve", "--cache-size", "0"}, "--cache-size \"0\": want a positive number"},
		{"cache size negative", []string{"--resolve", "--cache-size", "-1MiB"}, "want a positive number"},
		{"cache size garbage", []string{"--resolve", "--cache-size", "lots"}, "--cache-size \"lots\""},
		{"cache size unit", []string{"--resolve", "--cache-size", "64TB"}, "--cache-size \"64TB\""},
		{"cache size huge", []string{"--resolve", "--cache-size", "2000000GiB"}, "too large"},
		{"cache size tiny", []string{"--resolve", "--cache-size", "1K"}, "cache size 1024: at least"},
		{"cache max ttl zero", []string{"--resolve", "--cache-max-ttl", "0"}, "--cache-max-ttl 0s: at least 1s"},
		{"cache max ttl garbage", []string{"--resolve", "--cache-max-ttl", "1 day"}, "invalid value"},
		{"cache min ttl negative", []string{"--resolve", "--cache-min-ttl", "-1s"}, "negative"},
		{"cache min above max", []string{"--resolve", "--cache-min-ttl", "2h", "--cache-max-ttl", "1h"}, "above the max TTL"},
		{"serve stale negative", []string{"--resolve", "--serve-stale", "-1s"}, "--serve-stale -1s: must not be negative"},
		{"allow recursion garbage", []string{"--resolve", "--allow-recursion", "lab"}, "not a CIDR prefix"},
		{"allow recursion host bits", []string{"--resolve", "--allow-recursion", "198.18.0.1/24"}, "host bits set (did you mean 198.18.0.0/24?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--ip", "198.18.0.2"}, tc.args...)
			_, err := parseConfig(args, io.Discard)
			if err == nil {
				t.Fatalf("parseConfig(%q) = nil error, want one containing %q", args, tc.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("parseConfig(%q) error %v is not a usage error (exit status 2)", args, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseConfig(%q) error = %q, want it to contain %q", args, err, tc.want)
			}
		})
	}
}

// TestAllowRecursionDefault: without --allow-recursion, recursion is for
// the on-link prefixes only (never an open resolver); with it, for exactly
// the prefixes given (an address alone is a host prefix).
func TestAllowRecursionDefault(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		args []string
		want []netip.Prefix
	}{
		{[]string{"--ip", "198.18.0.2/24", "--resolve"}, []netip.Prefix{p("198.18.0.0/24"), p("fe80::/10")}},
		{[]string{"--ip", "198.18.0.2/16", "--ip6", "2001:2::2/64", "--forward", "198.18.0.53"},
			[]netip.Prefix{p("198.18.0.0/16"), p("2001:2::/64"), p("fe80::/10")}},
		{[]string{"--ip", "198.18.0.2", "--resolve", "--allow-recursion", "198.18.9.0/24", "--allow-recursion", "198.18.1.5", "--allow-recursion", "2001:2:9::/48"},
			[]netip.Prefix{p("198.18.9.0/24"), p("198.18.1.5/32"), p("2001:2:9::/48")}},
	} {
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("parseConfig(%q): %v", tc.args, err)
		}
		if !slices.Equal(c.local.allow, tc.want) {
			t.Errorf("parseConfig(%q): allow %v, want %v", tc.args, c.local.allow, tc.want)
		}
	}
}

func TestResolveFlagsInHelp(t *testing.T) {
	var b strings.Builder
	parseConfig([]string{"--help"}, &b)
	for _, f := range []string{"-resolve", "-forward", "-root-hints", "-cache-size", "-cache-max-ttl", "-cache-min-ttl",
		"-serve-stale", "-override", "-hosts", "-block", "-allow-recursion"} {
		if !strings.Contains(b.String(), "  "+f+" ") && !strings.Contains(b.String(), "  "+f+"\n") {
			t.Errorf("usage text does not list %s", f)
		}
	}
}
