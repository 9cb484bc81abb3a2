package xfr

import (
	"sync/atomic"
	"time"
)

// Role is what the server is for a zone.
type Role uint8

// Roles.
const (
	// RolePrimary: a zone loaded from a file (--zone).
	RolePrimary Role = iota
	// RoleSecondary: a zone pulled from a primary (--secondary, or a
	// catalog member).
	RoleSecondary
	// RoleCatalog: a catalog zone consumed (--catalog); not served.
	RoleCatalog
)

// String returns "primary", "secondary" or "catalog".
func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleSecondary:
		return "secondary"
	case RoleCatalog:
		return "catalog"
	}
	return "Role(?)"
}

// zoneCounters are one zone's transfer counters; atomics, so that the
// serving, pulling and notifying goroutines count without a lock.
type zoneCounters struct {
	xfrInAXFR, xfrInIXFR, xfrInFailed, bytesIn atomic.Uint64
	xfrOutAXFR, xfrOutIXFR, xfrOutRefused      atomic.Uint64
	bytesOut                                   atomic.Uint64
	notifySent, notifyFailed, notifyIn         atomic.Uint64
}

// ZoneStats is a snapshot of one zone's transfer state and counters.
type ZoneStats struct {
	// Zone is the zone's name in presentation format ("example.com.").
	Zone string
	Role Role
	// Serial is the serial served (secondaries: the copy held; 0 and
	// Loaded false when none).
	Serial uint32
	// Loaded: a secondary holds a copy; Expired: it is too old to be
	// served (SOA expire passed without a successful refresh).
	Loaded, Expired bool
	// Primary is where a secondary pulls from.
	Primary string
	// LastRefresh is when a secondary last checked its primary, and
	// LastResult what came of it ("up to date", "IXFR", "AXFR" or the
	// error); zero and empty before the first check.
	LastRefresh time.Time
	LastResult  string
	// LastOK is when a refresh last succeeded.
	LastOK time.Time

	// Incoming transfers that were applied, by kind; those that failed
	// (network, TSIG, malformed or invalid zone); bytes received.
	XfrInAXFR, XfrInIXFR, XfrInFailed, BytesIn uint64
	// Outgoing transfers served, by kind; requests refused by
	// --allow-transfer; bytes sent.
	XfrOutAXFR, XfrOutIXFR, XfrOutRefused, BytesOut uint64
	// NOTIFY: acknowledged by a target, not acknowledged (or refused),
	// and received (accepted) from primaries.
	NotifySent, NotifyFailed, NotifyReceived uint64
}

func (c *zoneCounters) fill(s *ZoneStats) {
	s.XfrInAXFR, s.XfrInIXFR, s.XfrInFailed, s.BytesIn = c.xfrInAXFR.Load(), c.xfrInIXFR.Load(), c.xfrInFailed.Load(), c.bytesIn.Load()
	s.XfrOutAXFR, s.XfrOutIXFR, s.XfrOutRefused, s.BytesOut = c.xfrOutAXFR.Load(), c.xfrOutIXFR.Load(), c.xfrOutRefused.Load(), c.bytesOut.Load()
	s.NotifySent, s.NotifyFailed, s.NotifyReceived = c.notifySent.Load(), c.notifyFailed.Load(), c.notifyIn.Load()
}
