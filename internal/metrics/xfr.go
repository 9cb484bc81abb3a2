package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapdns/tapdns/xfr"
)

// xfrCollector exports the zone-transfer state of each zone
// (xfr.Service.Stats): serials, refreshes, transfers in and out, NOTIFY.
type xfrCollector struct {
	stats func() []xfr.ZoneStats

	serial, loaded, expired, lastRefresh, lastOK, refreshOK *prometheus.Desc
	xfrIn, xfrInFailed, xfrOut, xfrRefused, bytes           *prometheus.Desc
	notifySent, notifyFailed, notifyReceived                *prometheus.Desc
}

func newXfrCollector(stats func() []xfr.ZoneStats) *xfrCollector {
	return &xfrCollector{
		stats:          stats,
		serial:         desc("xfr_zone_serial", "SOA serial of each zone transfers know: served (primary) or held (secondary, catalog).", "zone", "role"),
		loaded:         desc("xfr_zone_loaded", "1 if a secondary or catalog zone holds a copy, 0 before its first transfer.", "zone", "role"),
		expired:        desc("xfr_zone_expired", "1 if a secondary zone expired (no refresh within the SOA expire time): answered SERVFAIL.", "zone", "role"),
		lastRefresh:    desc("xfr_last_refresh_timestamp_seconds", "When a secondary last checked its primary (0: never).", "zone"),
		lastOK:         desc("xfr_last_refresh_success_timestamp_seconds", "When a secondary's refresh last succeeded (0: never).", "zone"),
		refreshOK:      desc("xfr_last_refresh_success", "1 if a secondary's last refresh succeeded, 0 if it failed.", "zone"),
		xfrIn:          desc("xfr_transfers_in_total", "Transfers received and applied, by type (axfr, ixfr).", "zone", "type"),
		xfrInFailed:    desc("xfr_transfers_in_failed_total", "Transfers that failed (network, TSIG, malformed or invalid zone; the old copy stays).", "zone"),
		xfrOut:         desc("xfr_transfers_out_total", "Transfers served, by type of answer (axfr, ixfr).", "zone", "type"),
		xfrRefused:     desc("xfr_transfers_refused_total", "Transfer requests refused by --allow-transfer.", "zone"),
		bytes:          desc("xfr_bytes_total", "Bytes of transfer messages, by direction (in, out).", "zone", "direction"),
		notifySent:     desc("xfr_notify_sent_total", "NOTIFY messages acknowledged by --notify targets.", "zone"),
		notifyFailed:   desc("xfr_notify_failed_total", "NOTIFY messages a target refused or never acknowledged.", "zone"),
		notifyReceived: desc("xfr_notify_received_total", "NOTIFY messages accepted from primaries.", "zone"),
	}
}

// Describe implements prometheus.Collector.
func (c *xfrCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.serial, c.loaded, c.expired, c.lastRefresh, c.lastOK, c.refreshOK,
		c.xfrIn, c.xfrInFailed, c.xfrOut, c.xfrRefused, c.bytes, c.notifySent, c.notifyFailed, c.notifyReceived} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c *xfrCollector) Collect(ch chan<- prometheus.Metric) {
	for _, z := range c.stats() {
		role := z.Role.String()
		gauge(ch, c.serial, float64(z.Serial), z.Zone, role)
		gauge(ch, c.loaded, b2f(z.Loaded), z.Zone, role)
		gauge(ch, c.expired, b2f(z.Expired), z.Zone, role)
		if z.Role != xfr.RolePrimary {
			var last, ok float64
			if !z.LastRefresh.IsZero() {
				last = float64(z.LastRefresh.UnixMilli()) / 1000
			}
			if !z.LastOK.IsZero() {
				ok = float64(z.LastOK.UnixMilli()) / 1000
			}
			gauge(ch, c.lastRefresh, last, z.Zone)
			gauge(ch, c.lastOK, ok, z.Zone)
			gauge(ch, c.refreshOK, b2f(!z.LastOK.IsZero() && !z.LastOK.Before(z.LastRefresh)), z.Zone)
			counter(ch, c.xfrIn, z.XfrInAXFR, z.Zone, "axfr")
			counter(ch, c.xfrIn, z.XfrInIXFR, z.Zone, "ixfr")
			counter(ch, c.xfrInFailed, z.XfrInFailed, z.Zone)
			counter(ch, c.bytes, z.BytesIn, z.Zone, "in")
			counter(ch, c.notifyReceived, z.NotifyReceived, z.Zone)
		}
		counter(ch, c.xfrOut, z.XfrOutAXFR, z.Zone, "axfr")
		counter(ch, c.xfrOut, z.XfrOutIXFR, z.Zone, "ixfr")
		counter(ch, c.xfrRefused, z.XfrOutRefused, z.Zone)
		counter(ch, c.bytes, z.BytesOut, z.Zone, "out")
		counter(ch, c.notifySent, z.NotifySent, z.Zone)
		counter(ch, c.notifyFailed, z.NotifyFailed, z.Zone)
	}
}
