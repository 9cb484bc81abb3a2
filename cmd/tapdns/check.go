package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/zone"
)

const checkUsage = `Usage: tapdns check --zone FILE [--zone FILE ...]
       tapdns check FILE ...

Loads and validates zone files exactly as the server does (like
named-checkzone or kzonecheck). Prints one line per zone (file, origin,
serial, record count, DNSSEC) and exits 0, or prints the first problem as
"zone FILE: line N: reason" and exits 1. Problems that do not stop a zone
from loading (expired or not yet valid signatures, a broken NSEC or NSEC3
chain, unsigned RRsets in a signed zone) are printed to standard error as
"zone FILE: line N: warning: reason"; the exit status stays 0. Exit
status 2 is a usage error.

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
	fs.Var(&files, "zone", "zone `file` to check (repeatable)")
	xf := addXfrFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	files = append(files, fs.Args()...)
	var c config
	if err := xf.parse(&c); err != nil {
		fmt.Fprintf(stderr, "tapdns check: %v\n", err)
		return exitUsage
	}
	if len(files) == 0 && len(c.xfr.xfr.Secondaries)+len(c.xfr.xfr.Catalogs) > 0 {
		return checkSaved(c.xfr.xfr, stdout, stderr)
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "tapdns check: no zone files (give --zone FILE)\n")
		return exitUsage
	}
	zones := make([]*zone.Zone, 0, len(files))
	for _, f := range files {
		z, err := zone.LoadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitRuntime
		}
		zones = append(zones, z)
	}
	// The server serves the files as one set: two files for one origin are
	// an error there too.
	set, err := zone.NewSet(zones...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitRuntime
	}
	if err := checkSecondaryConflicts(c.xfr.xfr, set); err != nil {
		fmt.Fprintf(stderr, "tapdns check: %v\n", err)
		return exitUsage
	}
	for _, z := range zones {
		printWarnings(stderr, z)
		fmt.Fprintln(stdout, zoneset.Summary(z)+checkDetails(z))
	}
	return checkSaved(c.xfr.xfr, stdout, stderr)
}
