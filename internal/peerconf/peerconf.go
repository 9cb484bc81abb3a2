// Package peerconf writes the configuration files of the reference servers
// that tests and benchmarks run next to tapdns, NSD and Knot DNS, the same
// way everywhere: in the foreground as root, one server process (NSD) or
// background worker (Knot), every file the server writes under one
// directory, no remote control unless asked for. What differs between
// users (addresses, rate limits, transfers, keys) is in the fields.
//
// The text is the servers' own syntax; the caller checks it with
// nsd-checkconf or knotc conf-check before starting the server, so a bad
// option is reported in the server's words.
package peerconf

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Key is a TSIG key, given to the server under Name.
type Key struct {
	Name      string // presentation format, e.g. "xfr-key"
	Algorithm string // as the servers spell it, e.g. "hmac-sha256"
	Secret    string // base64
}

// Zone is one zone the server serves.
type Zone struct {
	Name string // origin, presentation format
	File string // zone file: absolute, or relative to the server's Dir
	// Options are more lines of the zone's clause, in the server's
	// syntax ("provide-xfr: 127.0.0.0/8 xfr-key" for NSD, "acl: xfr" for
	// Knot), in order.
	Options []string
}

// NSD is the configuration of one NSD server.
type NSD struct {
	// Dir is the zonesdir, where NSD also writes its zone list, its
	// xfrd state and its PID file.
	Dir string
	// Listen are the addresses and ports NSD answers on.
	Listen []netip.AddrPort
	// Server are more lines of the server clause ("verbosity: 2",
	// "do-ip6: no", "rrl-ratelimit: 0"), in order.
	Server []string
	Keys   []Key
	Zones  []Zone
}

// String returns nsd.conf.
func (c NSD) String() string {
	var b strings.Builder
	b.WriteString("server:\n")
	for _, a := range c.Listen {
		fmt.Fprintf(&b, "  ip-address: %s@%d\n", a.Addr(), a.Port())
	}
	fmt.Fprintf(&b, `  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: %q
  zonelistfile: %q
  xfrdfile: %q
  xfrdir: %q
  pidfile: %q
`, c.Dir, filepath.Join(c.Dir, "zone.list"), filepath.Join(c.Dir, "xfrd.state"), c.Dir, filepath.Join(c.Dir, "nsd.pid"))
	lines(&b, "  ", c.Server)
	b.WriteString("remote-control:\n  control-enable: no\n")
	for _, k := range c.Keys {
		fmt.Fprintf(&b, "key:\n  name: %q\n  algorithm: %s\n  secret: %q\n", k.Name, k.Algorithm, k.Secret)
	}
	for _, z := range c.Zones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.Name, z.File)
		lines(&b, "  ", z.Options)
	}
	return b.String()
}

// Knot is the configuration of one Knot DNS server.
type Knot struct {
	// Dir is the rundir and the storage of the database, the zone files
	// (relative ones) and the journals; the PID file is there too.
	Dir string
	// Listen are the addresses and ports Knot answers on.
	Listen []netip.AddrPort
	// Control opens the control socket ControlSocket for knotc -s.
	Control bool
	// Server are more lines of the server clause ("udp-workers: 1",
	// "identity: x"), in order.
	Server []string
	// LogLevel is the level of the log to stderr; "" is "notice".
	LogLevel string
	Keys     []Key
	// Clauses is more configuration put before the template: whole
	// clauses (remote:, acl:) in Knot's syntax, ending in a newline.
	Clauses string
	// Template are the lines of the default template after its storage;
	// nil is those of a server that only serves its zone files: loaded
	// whole, never written back, no journal, no semantic checks (the test
	// zones break some on purpose).
	Template []string
	// Templates are more templates, after the default one; their storage
	// is Dir too. A zone names one with the option "template: ID".
	Templates []Template
	// Zones are the zones; one with no File has no file line (a catalog
	// zone Knot generates).
	Zones []Zone
}

// Template is a Knot template other than the default one.
type Template struct {
	ID    string
	Lines []string
}

// ControlSocket is the path of the control socket of a Knot with Control.
func (c Knot) ControlSocket() string { return filepath.Join(c.Dir, "knot.sock") }

// String returns knot.conf.
func (c Knot) String() string {
	var b strings.Builder
	b.WriteString("server:\n  listen: [ ")
	for i, a := range c.Listen {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s@%d", a.Addr(), a.Port())
	}
	fmt.Fprintf(&b, " ]\n  rundir: %q\n  pidfile: %q\n  user: root:root\n  background-workers: 1\n", c.Dir, filepath.Join(c.Dir, "knot.pid"))
	lines(&b, "  ", c.Server)
	if c.Control {
		fmt.Fprintf(&b, "control:\n  listen: %q\n", c.ControlSocket())
	}
	level := c.LogLevel
	if level == "" {
		level = "notice"
	}
	fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: %s\ndatabase:\n  storage: %q\n", level, c.Dir)
	if len(c.Keys) > 0 {
		b.WriteString("key:\n")
		for _, k := range c.Keys {
			fmt.Fprintf(&b, "  - id: %s\n    algorithm: %s\n    secret: %s\n", k.Name, k.Algorithm, k.Secret)
		}
	}
	b.WriteString(c.Clauses)
	template := c.Template
	if template == nil {
		template = []string{"zonefile-sync: -1", "zonefile-load: whole", "journal-content: none", "semantic-checks: off"}
	}
	fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n", c.Dir)
	lines(&b, "    ", template)
	for _, t := range c.Templates {
		fmt.Fprintf(&b, "  - id: %s\n    storage: %q\n", t.ID, c.Dir)
		lines(&b, "    ", t.Lines)
	}
	if len(c.Zones) > 0 {
		b.WriteString("zone:\n")
		for _, z := range c.Zones {
			fmt.Fprintf(&b, "  - domain: %q\n", z.Name)
			if z.File != "" {
				fmt.Fprintf(&b, "    file: %q\n", z.File)
			}
			lines(&b, "    ", z.Options)
		}
	}
	return b.String()
}

func lines(b *strings.Builder, indent string, ls []string) {
	for _, l := range ls {
		b.WriteString(indent)
		b.WriteString(l)
		b.WriteByte('\n')
	}
}
