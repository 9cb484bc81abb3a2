package main

// Local data: --override, --hosts and --block (package localdata), the
// recursion ACL --allow-recursion, and their reloads.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/internal/filewatch"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/localdata"
)

// localConfig is what the local-data flags say.
type localConfig struct {
	overrides []string // NAME=ADDR, checked by localdata
	hosts     []string // files
	blocks    []string // files
	allow     []netip.Prefix
	allowSet  bool // --allow-recursion given (else: the on-link prefixes)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, s)
	return nil
}

type localFlags struct {
	overrides, hosts, blocks, allow listFlag
}

func addLocalFlags(fs *flag.FlagSet) *localFlags {
	f := &localFlags{}
	fs.Var(&f.overrides, "override", "answer `NAME=ADDR` locally (A or AAAA by the address; repeatable); wins over --hosts, the zones and upstream")
	fs.Var(&f.hosts, "hosts", "answer the names of this /etc/hosts-format `file` locally, with the matching PTR (repeatable; reloaded on SIGHUP and --watch)")
	fs.Var(&f.blocks, "block", "answer NXDOMAIN (EDE 15) for the names in this `file` and their subdomains (a name per line, or hosts-style \"0.0.0.0 name\"; repeatable; reloaded like --hosts)")
	fs.Var(&f.allow, "allow-recursion", "client `CIDR` allowed recursion and cached answers (repeatable; default: the on-link prefixes of --ip and --ip6)")
	return f
}

func (f *localFlags) parse(c *config) error {
	c.local = localConfig{overrides: f.overrides, hosts: f.hosts, blocks: f.blocks}
	for _, s := range f.allow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return usagef("--allow-recursion %q: not a CIDR prefix (e.g. 198.18.0.0/15 or 2001:db8::/32)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Masked() != p {
			return usagef("--allow-recursion %s: host bits set (did you mean %s?)", s, p.Masked())
		}
		c.local.allow = append(c.local.allow, p)
		c.local.allowSet = true
	}
	if !c.local.allowSet {
		for _, p := range []netip.Prefix{c.net.Addr, c.net.Addr6} {
			if p.IsValid() {
				c.local.allow = append(c.local.allow, p.Masked())
			}
		}
		// The link-local prefix is on-link by definition.
		c.local.allow = append(c.local.allow, netip.MustParsePrefix("fe80::/10"))
	}
	if c.ops.watch && len(c.zones) == 0 && len(c.local.files()) == 0 {
		return usagef("--watch needs --zone, --hosts or --block files to watch (the embedded zone never changes)")
	}
	// Catch a bad override or an unreadable file as a usage error now.
	if _, err := c.local.load(); err != nil {
		return usageError{err}
	}
	return nil
}

// onLink returns the prefixes of our links (for the mDNS gateway's
// audience without recursion).
func (c *config) onLink() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []netip.Prefix{c.net.Addr, c.net.Addr6} {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// empty reports whether no local data was asked for.
func (l *localConfig) empty() bool {
	return len(l.overrides) == 0 && len(l.hosts) == 0 && len(l.blocks) == 0
}

// files returns the files to watch.
func (l *localConfig) files() []string {
	return append(append([]string(nil), l.hosts...), l.blocks...)
}

// load reads everything into a new Data.
func (l *localConfig) load() (*localdata.Data, error) {
	if l.empty() {
		return nil, nil
	}
	var b localdata.Builder
	for _, o := range l.overrides {
		if err := b.AddOverride(o); err != nil {
			return nil, err
		}
	}
	for _, f := range l.hosts {
		if err := b.AddHostsFile(f); err != nil {
			return nil, err
		}
	}
	for _, f := range l.blocks {
		if err := b.AddBlockFile(f); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

// localReloader reloads the local data into svc; a failed reload keeps
// the data that is serving.
type localReloader struct {
	cfg *localConfig
	svc *dnssvc.Server
	log *slog.Logger
	mu  sync.Mutex
}

func (r *localReloader) reload(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.cfg.load()
	if err != nil {
		r.log.Warn("local data not reloaded; the previous data keeps serving", "why", why, "err", err)
		return
	}
	r.svc.SetLocal(d)
	r.log.Info("local data reloaded", "why", why, "names", d.Names, "blocked", d.Blocks)
}

// watch reloads when a hosts or block file changes, until ctx is done.
func (r *localReloader) watch(ctx context.Context, c config) {
	filewatch.Poll(ctx, r.cfg.files(), c.ops.watchInterval, zoneset.DefaultDebounce, func() { r.reload("file changed") })
}
