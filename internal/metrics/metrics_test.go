package metrics

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/pcap"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/zone"
)

// Scrape fetches url and parses the text exposition.
func Scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want (name=value pairs), or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func testZones(t *testing.T) *zone.Set {
	z, err := zone.Parse(strings.NewReader(`$ORIGIN m.test.
@ 300 IN SOA ns h 42 1 1 1 1
  300 IN NS ns
ns 300 IN A 198.18.0.2
`), "m.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	// A signed zone whose signatures have expired: one warning each.
	expired, err := zone.LoadFile("../../zone/testdata/signed/expired.zone")
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z, expired)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestServerScrape(t *testing.T) {
	var queries atomic.Uint64
	set := testZones(t)
	src := Sources{
		DNS: func() dnssvc.Stats {
			var s dnssvc.Stats
			s.Rcode[0] = queries.Load()
			s.Rcode[3] = 2
			s.Rcode[16] = 1
			s.Local, s.Blocked, s.Recursed, s.RecursionRefused = 4, 3, 7, 2
			return s
		},
		Requests: func() dnssvc.RequestStats {
			var r dnssvc.RequestStats
			r.N[0][0][0] = queries.Load() // udp, IPv4, A
			r.N[1][1][dnssvc.NumQTypeBuckets-1] = 3
			return r
		},
		Net: func() netstack.Stats {
			return netstack.Stats{FramesIn: 10 + queries.Load(), FramesOut: 7, DropForeignMAC: 4, TAPWriteErrors: 1}
		},
		TCP: func() dnstcp.Stats { return dnstcp.Stats{Active: 2, QueryCap: 5} },
		Fast: func() netstack.FastPathStats {
			f := netstack.FastPathStats{Enabled: true, Answered: 9}
			f.Dropped[0] = 6
			return f
		},
		Zones: func() *zone.Set { return set },
		Reloads: func() zoneset.Stats {
			return zoneset.Stats{Reloads: 3, ReloadFailures: 1, LastReload: time.Unix(1700000000, 0), LastOK: false}
		},
		Capture: func() pcap.Stats { return pcap.Stats{Packets: 12, Bytes: 4096} },
		Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26",
	}
	reg, err := NewRegistry(src)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	defer srv.Close()
	url := fmt.Sprintf("http://%s/metrics", srv.Addr())

	queries.Store(5)
	fams := Scrape(t, url)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tapdns_build_info", []string{"version", "v1.2.3", "revision", "abc"}, 1},
		{"tapdns_dns_requests_total", []string{"proto", "udp", "family", "1", "type", "A"}, 5},
		{"tapdns_dns_requests_total", []string{"proto", "tcp", "family", "2", "type", "other"}, 3},
		{"tapdns_dns_requests_total", []string{"proto", "tcp", "family", "1", "type", "AAAA"}, 0},
		{"tapdns_dns_responses_total", []string{"rcode", "NOERROR"}, 5},
		{"tapdns_dns_responses_total", []string{"rcode", "NXDOMAIN"}, 2},
		{"tapdns_dns_responses_total", []string{"rcode", "BADVERS"}, 1},
		{"tapdns_frames_total", []string{"direction", "in"}, 15},
		{"tapdns_link_drops_total", []string{"reason", "foreign_mac"}, 4},
		{"tapdns_tap_errors_total", []string{"op", "write"}, 1},
		{"tapdns_tcp_connections_active", nil, 2},
		{"tapdns_tcp_connections_closed_total", []string{"reason", "query_cap"}, 5},
		{"tapdns_fastpath_answered_total", nil, 9},
		{"tapdns_fastpath_dropped_total", []string{"reason", "checksum"}, 6},
		{"tapdns_fastpath_passed_total", []string{"reason", "not_udp"}, 0},
		{"tapdns_zone_serial", []string{"zone", "m.test.", "file", "m.zone"}, 42},
		{"tapdns_zone_records", []string{"zone", "m.test."}, 3},
		{"tapdns_zone_warnings", []string{"zone", "m.test."}, 0},
		{"tapdns_zone_dnssec_signed", []string{"zone", "m.test."}, 0},
		{"tapdns_zone_warnings", []string{"zone", "expired."}, 12},
		{"tapdns_zone_dnssec_signed", []string{"zone", "expired."}, 1},
		{"tapdns_zone_reloads_total", nil, 3},
		{"tapdns_zone_reload_failures_total", nil, 1},
		{"tapdns_zone_last_reload_timestamp_seconds", nil, 1700000000},
		{"tapdns_zone_last_reload_success", nil, 0},
		{"tapdns_pcap_packets_total", nil, 12},
		{"tapdns_dns_local_answers_total", nil, 4},
		{"tapdns_dns_blocked_total", nil, 3},
		{"tapdns_dns_recursion_total", nil, 7},
		{"tapdns_dns_recursion_refused_total", nil, 2},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := fams["tapdns_dns_responses_total"]; ok {
		for _, m := range fams["tapdns_dns_responses_total"].GetMetric() {
			if m.GetLabel()[0].GetValue() == "RCODE13" {
				t.Error("empty unusual rcode series exported")
			}
		}
	}

	// Values move between scrapes.
	queries.Store(8)
	fams = Scrape(t, url)
	if got := value(t, fams, "tapdns_dns_requests_total", "proto", "udp", "family", "1", "type", "A"); got != 8 {
		t.Errorf("after more queries: requests %v, want 8", got)
	}

	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(url); err == nil {
		t.Error("still serving after Close")
	}
}

func TestPartialSources(t *testing.T) {
	// Only some sources: the others' metrics are left out, nothing panics.
	reg, err := NewRegistry(Sources{Zones: func() *zone.Set { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "tapdns_") && f.GetName() != "tapdns_build_info" {
			t.Errorf("unexpected family %s", f.GetName())
		}
	}
}

func TestListenError(t *testing.T) {
	reg, _ := NewRegistry(Sources{})
	if _, err := Listen("256.0.0.1:0", reg, nil); err == nil {
		t.Error("Listen on a bad address succeeded")
	}
	s, err := Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Close without Serve releases the listener.
	if err := s.Close(); err != nil {
		t.Errorf("Close without Serve: %v", err)
	}
}
