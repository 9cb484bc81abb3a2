package main

// --mdns: the Multicast DNS responder and the unicast-to-mDNS gateway
// (package mdns) on the userspace stack.

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/mdns"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/zone"
)

// maxMDNSTimeout bounds --mdns-timeout: a TCP client's connection and a
// UDP client's wait are held that long.
const maxMDNSTimeout = 10 * time.Second

// mdnsConfig is what the mDNS flags say.
type mdnsConfig struct {
	on      bool
	name    string
	timeout time.Duration
}

type mdnsFlags struct {
	on      *bool
	name    *string
	timeout *time.Duration
}

func addMDNSFlags(fs *flag.FlagSet) *mdnsFlags {
	return &mdnsFlags{
		on: fs.Bool("mdns", false, "multicast DNS on the link (RFC 6762): publish --mdns-name.local, the DNS service by DNS-SD and a zone whose origin is local., "+
			"and answer unicast queries for names under local. by asking the link"),
		name:    fs.String("mdns-name", mdns.DefaultName, "host `label` published as LABEL.local with --mdns; LABEL-2, LABEL-3, ... when another host holds it"),
		timeout: fs.Duration("mdns-timeout", mdns.DefaultTimeout, "with --mdns, how long a unicast query for a name under local. waits for mDNS answers before NXDOMAIN"),
	}
}

// parse checks the mDNS flags. set names the flags given on the command
// line.
func (f *mdnsFlags) parse(c *config, set map[string]bool) error {
	c.mdns = mdnsConfig{on: *f.on, name: *f.name, timeout: *f.timeout}
	if !c.mdns.on {
		for _, n := range []string{"mdns-name", "mdns-timeout"} {
			if set[n] {
				return usagef("--%s needs --mdns", n)
			}
		}
		return nil
	}
	if c.mdns.timeout <= 0 || c.mdns.timeout > maxMDNSTimeout {
		return usagef("--mdns-timeout %v: must be more than 0 and at most %v", c.mdns.timeout, maxMDNSTimeout)
	}
	mc := c.mdnsConfig(netip.Addr{})
	if err := mc.Check(); err != nil {
		return usagef("--mdns-name: %v", err)
	}
	return nil
}

// mdnsConfig returns the Responder's configuration: the stack's addresses
// (and its link-local one, when valid), the DNS port, no zone records yet.
func (c *config) mdnsConfig(linkLocal netip.Addr) mdns.Config {
	mc := mdns.Config{Name: c.mdns.name, DNSPort: c.net.Port, Timeout: c.mdns.timeout}
	for _, p := range []netip.Prefix{c.net.Addr, c.net.Addr6} {
		if p.IsValid() {
			mc.Addrs = append(mc.Addrs, p)
		}
	}
	if linkLocal.IsValid() {
		mc.Addrs = append(mc.Addrs, netip.PrefixFrom(linkLocal, 64))
	}
	return mc
}

// mdnsHolder keeps the Responder for the zone reload hook, which is made
// before it: the zones load before the stack exists, and the Responder
// needs the stack's sockets.
type mdnsHolder struct {
	r atomic.Pointer[mdns.Responder]
}

// mdnsHolder returns a holder when --mdns is on, nil otherwise.
func (c *config) mdnsHolder() *mdnsHolder {
	if !c.mdns.on {
		return nil
	}
	return &mdnsHolder{}
}

// onInstall wraps the zoneset install hook: after a reload, the local.
// zone's records are published anew (a nil holder, without --mdns, adds
// nothing). The first load happens before the Responder exists, which
// reads the zones itself.
func (h *mdnsHolder) onInstall(install func(*zone.Set), log *slog.Logger) func(*zone.Set) {
	if h == nil {
		return install
	}
	return func(set *zone.Set) {
		install(set)
		r := h.r.Load()
		if r == nil {
			return
		}
		if err := r.SetRecords(localZoneRecords(set)); err != nil {
			log.Error("mdns: the reloaded local. zone is not published", "err", err)
		}
	}
}

// mdnsRunner is the Responder with the goroutine that runs it.
type mdnsRunner struct {
	r      *mdns.Responder
	cancel context.CancelFunc
	done   chan struct{}
}

// newMDNS opens the Responder's sockets on the stack (nil runner without
// --mdns, that is with a nil holder). It publishes the zone whose origin
// is local., if one is served.
func newMDNS(cfg config, st *netstack.Stack, set *zone.Set, h *mdnsHolder, log *slog.Logger) (*mdnsRunner, error) {
	if h == nil {
		return nil, nil
	}
	mc := cfg.mdnsConfig(st.LinkLocal())
	mc.Records = localZoneRecords(set)
	r, err := mdns.New(mc, st, log)
	if err != nil {
		return nil, err
	}
	h.r.Store(r)
	return &mdnsRunner{r: r}, nil
}

// gateway is the Responder as dnssvc's mDNS gateway, or nil (an untyped
// nil: a nil *Responder in the interface would be called).
func (m *mdnsRunner) gateway() dnssvc.Recursion {
	if m == nil {
		return nil
	}
	return m.r
}

// start runs the Responder until ctx is done or stop.
func (m *mdnsRunner) start(ctx context.Context, log *slog.Logger) {
	if m == nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if err := m.r.Run(ctx); err != nil {
			log.Error("mdns stopped", "err", err)
		}
	}()
	log.Info("mdns: publishing", "name", m.r.Name(), "timeout", m.r.Timeout().String())
}

// stop ends Run, which multicasts the goodbyes first (the stack must still
// be open), and closes the sockets.
func (m *mdnsRunner) stop() {
	if m == nil || m.r == nil {
		return
	}
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	_ = m.r.Close()
}

// stats is the metrics source (nil without --mdns).
func (m *mdnsRunner) stats() func() mdns.Stats {
	if m == nil {
		return nil
	}
	return m.r.Stats
}

// localOrigin is local. in wire form.
const localOrigin = "\x05local\x00"

// localZoneRecords returns the records of the zone local., if served.
func localZoneRecords(set *zone.Set) []mdns.ZoneRecord {
	var recs []mdns.ZoneRecord
	for _, z := range set.Zones() {
		if z.Origin != localOrigin {
			continue
		}
		z.Walk(func(owner []byte, typ uint16, _ uint32, rdata []byte) bool {
			recs = append(recs, mdns.ZoneRecord{Name: bytes.Clone(owner), Type: typ, Data: bytes.Clone(rdata)})
			return true
		})
	}
	return recs
}
