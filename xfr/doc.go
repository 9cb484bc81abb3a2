// Package xfr moves zones between servers: AXFR (RFC 5936) and IXFR
// (RFC 1995) out of the zones a server holds and into the secondary zones
// it pulls, NOTIFY (RFC 1996) both ways, TSIG (package tsig) on all of it,
// and catalog zones (RFC 9432) that add and remove secondaries.
//
// Zones are immutable *zone.Zone values built with zone.Builder from
// transferred records and read back with (*zone.Zone).Walk. A primary's
// journal of differences is computed when its zones are reloaded; a
// secondary's comes from the IXFRs it receives. The package reaches the
// network through the small Network interface (the userspace stack in the
// appliance, kernel sockets in tests).
package xfr
