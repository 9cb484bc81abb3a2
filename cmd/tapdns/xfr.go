package main

// Zone transfers: the --tsig, --allow-transfer, --notify, --secondary,
// --allow-notify, --state-dir and --catalog flags, and the wiring of
// package xfr into the server (the zones served are the zone files plus
// the secondary zones; see zoneComposer).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/xfr"
	"github.com/tapdns/tapdns/zone"
)

// The xfr Service is the query front's transfer side.
var _ dnssvc.Transfers = (*xfr.Service)(nil)

// repeated is a repeatable string flag.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, " ") }

func (r *repeated) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*r = append(*r, s)
	return nil
}

// xfrFlags are the transfer flags before validation.
type xfrFlags struct {
	tsig, allowTransfer, notify, secondary, allowNotify, catalog repeated
	stateDir                                                     *string
}

func addXfrFlags(fs *flag.FlagSet) *xfrFlags {
	f := &xfrFlags{}
	fs.Var(&f.tsig, "tsig", "TSIG key `NAME:ALGORITHM:BASE64SECRET` (hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1; repeatable); signed queries are checked against these keys")
	fs.Var(&f.allowTransfer, "allow-transfer", "allow AXFR/IXFR of the zones served to `CIDR|key=NAME` (repeatable; none by default)")
	fs.Var(&f.notify, "notify", "send NOTIFY to `ADDR[:PORT][,key=NAME]` after each serial change (repeatable); signed with the key given, or with the only --tsig key")
	fs.Var(&f.secondary, "secondary", "serve `ZONE@ADDR[:PORT][,key=NAME]` as a secondary, pulled from that primary by IXFR/AXFR (repeatable)")
	fs.Var(&f.allowNotify, "allow-notify", "accept NOTIFY for secondary zones from `CIDR|key=NAME` besides each zone's primary (repeatable)")
	fs.Var(&f.catalog, "catalog", "consume the catalog zone `ZONE@ADDR[:PORT][,key=NAME]` (RFC 9432): its members become secondaries from that primary (repeatable)")
	f.stateDir = fs.String("state-dir", "", "keep each secondary zone and its journal in `DIR`, and serve them from there at start")
	return f
}

// xfrConfig is the validated transfer configuration.
type xfrConfig struct {
	xfr xfr.Config
	// enabled: some flag other than --tsig was given, so the server runs
	// an xfr.Service (without one, transfers are refused and NOTIFY is
	// NOTIMP, as before these flags existed).
	enabled bool
}

// parse validates the flags into c.xfr and c.svc.TSIG. zones are the
// --zone files, which may not also be secondaries (checked at load).
func (f *xfrFlags) parse(c *config) error {
	var keys []*tsig.Key
	for _, s := range f.tsig {
		k, err := tsig.ParseKey(s)
		if err != nil {
			return usagef("--tsig: %v", err)
		}
		keys = append(keys, k)
	}
	var ring *tsig.Keyring // nil without keys: every signed query is BADKEY
	if len(keys) > 0 {
		var err error
		if ring, err = tsig.NewKeyring(keys...); err != nil {
			return usagef("--tsig: %v", err)
		}
	}
	x := xfr.Config{Keys: ring, StateDir: *f.stateDir}
	for _, s := range f.allowTransfer {
		r, err := xfr.ParseRule(s, ring)
		if err != nil {
			return usagef("--allow-transfer %v", err)
		}
		x.AllowTransfer = append(x.AllowTransfer, r)
	}
	for _, s := range f.allowNotify {
		r, err := xfr.ParseRule(s, ring)
		if err != nil {
			return usagef("--allow-notify %v", err)
		}
		x.AllowNotify = append(x.AllowNotify, r)
	}
	for _, s := range f.notify {
		r, err := xfr.ParseRemote(s, false, ring)
		if err != nil {
			return usagef("--notify %v", err)
		}
		if r.Key == nil && len(keys) == 1 {
			r.Key = keys[0] // "signed when a key is configured"
		}
		x.Notify = append(x.Notify, r)
	}
	seen := map[string]string{}
	for _, l := range []struct {
		flag string
		list []string
		dst  *[]xfr.Remote
	}{{"--secondary", f.secondary, &x.Secondaries}, {"--catalog", f.catalog, &x.Catalogs}} {
		for _, s := range l.list {
			r, err := xfr.ParseRemote(s, true, ring)
			if err != nil {
				return usagef("%s %v", l.flag, err)
			}
			if prev, dup := seen[string(r.Zone)]; dup {
				return usagef("%s %s: zone %s is already given by %s", l.flag, s, zone.NameText(string(r.Zone)), prev)
			}
			seen[string(r.Zone)] = l.flag + " " + s
			*l.dst = append(*l.dst, r)
		}
	}
	if x.StateDir != "" && len(x.Secondaries)+len(x.Catalogs) == 0 {
		return usagef("--state-dir without --secondary or --catalog: there is nothing to keep")
	}
	c.xfr = xfrConfig{xfr: x, enabled: len(x.AllowTransfer)+len(x.AllowNotify)+len(x.Notify)+len(x.Secondaries)+len(x.Catalogs) > 0}
	c.svc.TSIG = ring
	return nil
}

// checkSecondaryConflicts refuses a --secondary or --catalog zone that is
// also a --zone file.
func checkSecondaryConflicts(x xfr.Config, set *zone.Set) error {
	for _, r := range slices.Concat(x.Secondaries, x.Catalogs) {
		if z := set.Zone(r.Zone); z != nil && z.Origin == string(r.Zone) {
			return usagef("zone %s is both a --zone file (%s) and a --secondary/--catalog", zone.NameText(z.Origin), z.File)
		}
	}
	return nil
}

// lazyNet is the network for xfr: the stack, once it exists. The xfr
// Service is made before the stack (the query front needs it, and the
// stack needs the query front) and uses the network only from Run.
type lazyNet struct {
	mu sync.Mutex
	st *netstack.Stack
}

func (n *lazyNet) set(st *netstack.Stack) { n.mu.Lock(); n.st = st; n.mu.Unlock() }

func (n *lazyNet) stack() (*netstack.Stack, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st == nil {
		return nil, errors.New("network stack not started")
	}
	return n.st, nil
}

func (n *lazyNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	st, err := n.stack()
	if err != nil {
		return nil, err
	}
	return st.ListenUDP(laddr)
}

func (n *lazyNet) DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error) {
	st, err := n.stack()
	if err != nil {
		return nil, err
	}
	return st.DialTCP(ctx, raddr)
}

// zoneComposer builds the set of zones served from the zone files (or the
// embedded zone) and the secondary zones, and installs it whole, with the
// list of secondary zones not served yet (SERVFAIL), every time either
// side changes. It also shows the file zones to the xfr Service, which
// journals their changes and sends NOTIFY.
type zoneComposer struct {
	mu          sync.Mutex
	svc         *dnssvc.Server // nil until attach
	xs          *xfr.Service   // nil without transfers
	files       *zone.Set
	secondaries map[string]*zone.Zone
	unavailable [][]byte
	log         *slog.Logger
}

func newZoneComposer(log *slog.Logger) *zoneComposer {
	return &zoneComposer{secondaries: map[string]*zone.Zone{}, log: log}
}

// installFiles is the zoneset install hook (and installs the embedded
// zone): the file zones changed.
func (c *zoneComposer) installFiles(set *zone.Set) {
	c.mu.Lock()
	old := c.files
	c.files = set
	c.applyLocked()
	xs := c.xs
	c.mu.Unlock()
	if xs != nil {
		xs.ZonesChanged(old, set)
	}
}

// installSecondary is the xfr.Installer.
func (c *zoneComposer) installSecondary(origin []byte, z *zone.Zone, unavailable [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if z == nil {
		delete(c.secondaries, string(origin))
	} else {
		c.secondaries[string(origin)] = z
	}
	c.unavailable = unavailable
	c.applyLocked()
}

// attach names the Server (made after the xfr Service) and installs what
// was given so far.
func (c *zoneComposer) attach(svc *dnssvc.Server, xs *xfr.Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.svc, c.xs = svc, xs
	c.applyLocked()
}

func (c *zoneComposer) applyLocked() {
	if c.svc == nil {
		return
	}
	var zones []*zone.Zone
	if c.files != nil {
		zones = append(zones, c.files.Zones()...)
	}
	for origin, z := range c.secondaries {
		if f := c.files.Zone([]byte(origin)); f != nil && f.Origin == origin {
			continue // a --zone file wins (the configuration refuses both)
		}
		zones = append(zones, z)
	}
	set, err := zone.NewSet(zones...)
	if err != nil {
		// Distinct origins by construction; keep serving what we had.
		c.log.Error("cannot compose the zones served", "err", err)
		return
	}
	c.svc.SetZones(set)
	c.svc.SetUnavailable(c.unavailable)
}

// newTransfers makes the xfr Service (nil when no transfer flag was given)
// and the query front. net is the stack once it exists.
func newTransfers(cfg *config, comp *zoneComposer, net *lazyNet, log *slog.Logger) (*xfr.Service, *dnssvc.Server, error) {
	var xs *xfr.Service
	if cfg.xfr.enabled {
		var err error
		if xs, err = xfr.New(cfg.xfr.xfr, net, comp.installSecondary, log.With("pkg", "xfr")); err != nil {
			return nil, nil, err
		}
		cfg.svc.Transfers = xs
	}
	svc := dnssvc.New(cfg.svc, nil, log.With("pkg", "dnssvc"))
	comp.attach(svc, xs)
	return xs, svc, nil
}

// prepareStateDir gives the state directory and its files to the user
// tapdns runs as after --user, so that secondaries can still save.
func prepareStateDir(dir string, cr credentials) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	if err := os.Chown(dir, cr.uid, cr.gid); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		switch filepath.Ext(f) {
		case ".zone", ".journal", ".meta":
			if err := os.Chown(f, cr.uid, cr.gid); err != nil {
				return fmt.Errorf("--state-dir: %w", err)
			}
		}
	}
	return nil
}

// checkSaved loads the secondary zones saved in the state directory, as
// the server does at start, and prints a line for each (tapdns check).
func checkSaved(x xfr.Config, stdout, stderr io.Writer) int {
	if x.StateDir == "" {
		return exitOK
	}
	status := exitOK
	for _, r := range slices.Concat(x.Secondaries, x.Catalogs) {
		z, err := xfr.LoadSaved(x.StateDir, r.Zone)
		switch {
		case err != nil:
			fmt.Fprintln(stderr, err)
			status = exitRuntime
		case z == nil:
			fmt.Fprintf(stdout, "secondary %s: nothing saved yet\n", zone.NameText(string(r.Zone)))
		default:
			fmt.Fprintln(stdout, zoneset.Summary(z))
		}
	}
	return status
}

// transferRunner runs the xfr Service until Stop.
type transferRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startTransfers(ctx context.Context, xs *xfr.Service) *transferRunner {
	ctx, cancel := context.WithCancel(ctx)
	r := &transferRunner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if xs != nil {
			_ = xs.Run(ctx)
		}
	}()
	return r
}

// Stop stops the Service and waits for it. It is idempotent.
func (r *transferRunner) Stop() {
	r.cancel()
	<-r.done
}

// logTransfers writes the line that says which zones are pulled from
// where and who may transfer.
func logTransfers(log *slog.Logger, x xfr.Config) {
	var sec, cat, notify, allow []string
	for _, r := range x.Secondaries {
		sec = append(sec, r.String())
	}
	for _, r := range x.Catalogs {
		cat = append(cat, r.String())
	}
	for _, r := range x.Notify {
		notify = append(notify, r.String())
	}
	for _, r := range x.AllowTransfer {
		allow = append(allow, r.String())
	}
	log.Info("zone transfers", "secondaries", sec, "catalogs", cat, "notify", notify, "allow_transfer", allow,
		"tsig_keys", x.Keys.Len(), "state_dir", x.StateDir)
}
