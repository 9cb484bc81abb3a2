package main

import (
	"fmt"
	"io"

	"github.com/tapdns/tapdns/zone"
)

// checkDetails is what `tapdns check` adds to a zone's summary line: how
// the zone is signed, and how many warnings it has.
func checkDetails(z *zone.Zone) string {
	s := ""
	switch {
	case z.NSEC3():
		s = " dnssec nsec3"
	case z.Signed():
		s = " dnssec nsec"
	}
	if n := z.WarningCount(); n > 0 {
		s += fmt.Sprintf(" warnings %d", n)
	}
	return s
}

// printWarnings writes z's warnings, one per line, as
// "zone FILE: line N: warning: reason" (see zone.Warning), and how many
// more there were than the zone keeps.
func printWarnings(w io.Writer, z *zone.Zone) {
	for _, x := range z.Warnings() {
		fmt.Fprintln(w, x.String())
	}
	if more := z.WarningCount() - len(z.Warnings()); more > 0 {
		fmt.Fprintf(w, "zone %s: %d more warnings not shown\n", z.File, more)
	}
}
