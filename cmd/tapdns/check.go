package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/zone"
)

const checkUsage = `Usage: tapdns check --zone [ORIGIN=]FILE [--zone [ORIGIN=]FILE ...]
       tapdns check [ORIGIN=]FILE ...

Loads and validates zone files exactly as the server does (like
named-checkzone, nsd-checkzone or kzonecheck). ORIGIN=FILE gives the
origin of a file that does not set it with $ORIGIN.

For each zone it prints its warnings to stderr, as
"zone FILE: line N: warning: reason" (records of one RRset with different
TTLs, TXT strings over 255 octets, a byte order mark; in a signed zone
expired or not yet valid signatures, a broken NSEC or NSEC3 chain,
unsigned RRsets, ...), then one line to stdout: file, origin, serial,
record count, how the zone is signed ("dnssec nsec" or "dnssec nsec3")
and the number of warnings when there are any. A zone that cannot be
loaded gets "zone FILE: line N: reason" on stderr instead, and then no
summary lines are printed.

Exit status: 0 when every zone loads (warnings or not), 1 when one does
not or two files hold the same zone, 2 for a usage error.

It also accepts the server's zone-transfer flags (--tsig, --allow-transfer,
--notify, --secondary, --allow-notify, --catalog, --state-dir), checks
them, and loads the secondary zones saved in --state-dir.
`

// runCheck implements `tapdns check`.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tapdns check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), checkUsage) }
	var files zoneFiles
	fs.Var(&files, "zone", "zone to check: `FILE` or ORIGIN=FILE (repeatable)")
	xf := addXfrFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	for _, a := range fs.Args() {
		if err := files.Set(a); err != nil {
			fmt.Fprintf(stderr, "tapdns check: %v\n", err)
			return exitUsage
		}
	}
	var c config
	if err := xf.parse(&c); err != nil {
		fmt.Fprintf(stderr, "tapdns check: %v\n", err)
		return exitUsage
	}
	if len(files) == 0 && len(c.xfr.xfr.Secondaries)+len(c.xfr.xfr.Catalogs) > 0 {
		return checkSaved(c.xfr.xfr, stdout, stderr)
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "tapdns check: no zone files (give --zone FILE or --zone ORIGIN=FILE)\n")
		return exitUsage
	}
	zones := make([]*zone.Zone, 0, len(files))
	failed := false
	for _, f := range files {
		z, err := zoneset.Load(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		printWarnings(stderr, z)
		zones = append(zones, z)
	}
	// The server serves the files as one set: two files for one origin are
	// an error there too.
	set, err := zone.NewSet(zones...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		failed = true
	}
	if failed {
		return exitRuntime
	}
	if err := checkSecondaryConflicts(c.xfr.xfr, set); err != nil {
		fmt.Fprintf(stderr, "tapdns check: %v\n", err)
		return exitUsage
	}
	for _, z := range zones {
		fmt.Fprintln(stdout, zoneset.Summary(z)+checkDetails(z))
	}
	return checkSaved(c.xfr.xfr, stdout, stderr)
}
