package main

import (
	"flag"
	"strings"
)

// xdpFlag is --xdp IFACE: attach to an existing Ethernet interface through
// AF_XDP instead of a TAP (see README, "AF_XDP").
type xdpFlag struct{ name *string }

func addXDPFlag(fs *flag.FlagSet) xdpFlag {
	return xdpFlag{fs.String("xdp", "", "attach to the existing Ethernet `interface` through AF_XDP instead of a TAP: frames for our addresses are taken from the kernel, all others left to it (exclusive with --tap; MAC and MTU are the interface's)")}
}

// apply checks --xdp against the flags it excludes and puts it in c.
func (x xdpFlag) apply(c *config, fs *flag.FlagSet) error {
	name := *x.name
	if name == "" {
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["tap"]:
		return usagef("--xdp and --tap are exclusive")
	case set["mac"]:
		return usagef("--mac cannot be used with --xdp: the interface's own address is used")
	case len(name) > 15: // IFNAMSIZ - 1
		return usagef("--xdp %q: longer than 15 bytes", name)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n"):
		return usagef("--xdp %q: not a valid interface name", name)
	}
	c.net.TAP, c.net.XDP = "", name
	if !set["mtu"] {
		c.net.MTU = 0 // the interface's
	}
	return nil
}
