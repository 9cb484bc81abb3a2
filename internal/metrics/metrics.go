// Package metrics exports tapdns's counters in the Prometheus text format
// over HTTP, for the management network (the kernel's sockets, not the
// TAP).
//
// Counting stays where it is cheap: the query path bumps its own atomic
// counters (dnssvc, netstack) and nothing here runs per query. A custom
// prometheus.Collector reads the Stats snapshots when Prometheus scrapes,
// so a scrape costs some allocations and a query none.
//
// Names are prefixed tapdns_ and labelled in the style of CoreDNS's
// metrics plugin (proto, family, type, rcode).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/pcap"
	"github.com/tapdns/tapdns/internal/zoneset"
	"github.com/tapdns/tapdns/mdns"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/resolver"
	"github.com/tapdns/tapdns/xfr"
	"github.com/tapdns/tapdns/zone"
)

// Sources are the snapshots a scrape reads. A nil func leaves its metrics
// out.
type Sources struct {
	DNS      func() dnssvc.Stats
	Requests func() dnssvc.RequestStats
	Net      func() netstack.Stats
	Fast     func() netstack.FastPathStats
	XDP      func() netstack.XDPStats
	TCP      func() dnstcp.Stats
	Zones    func() *zone.Set
	Reloads  func() zoneset.Stats
	Capture  func() pcap.Stats
	// QueryLogDropped counts --log-queries lines dropped because the log
	// could not keep up.
	QueryLogDropped func() uint64
	// Resolver is recursion or forwarding and its cache (see
	// resolver.go in this package).
	Resolver func() resolver.Stats
	// MDNS is the mDNS responder and gateway (mdns.go).
	MDNS func() mdns.Stats
	// Transfers is the per-zone zone-transfer state (xfr.go).
	Transfers func() []xfr.ZoneStats
	// Version and GoVersion label tapdns_build_info.
	Version, Revision, GoVersion string
}

// rcodeNames label tapdns_dns_responses_total, indexed like
// dnssvc.Stats.Rcode.
var rcodeNames = [17]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14", "RCODE15", "BADVERS",
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("tapdns_"+name, help, labels, nil)
}

// Collector is a prometheus.Collector over Sources.
type Collector struct {
	src Sources

	buildInfo, requests, responses, dropped, truncated, cached, rrlLimited, rrlSlipped *prometheus.Desc
	frames, bytes, linkDrops, tapErrors, stackFrames                                   *prometheus.Desc
	fastAnswered, fastViaStack, fastPassed, fastDropped                                *prometheus.Desc
	udpQueries, udpReplies, udpNoReply, udpSent, udpErrors                             *prometheus.Desc
	tcpQueries, tcpReplies, tcpAccepted, tcpActive, tcpClosed                          *prometheus.Desc
	zoneSerial, zoneRecords, reloads, reloadFailures, fileFailures, lastReload, lastOK *prometheus.Desc
	zoneWarnings, zoneSigned                                                           *prometheus.Desc
	pcapPackets, pcapDropped, pcapBytes                                                *prometheus.Desc
	qlogDropped                                                                        *prometheus.Desc
	localAnswers, blocked, recursed, recursionRefused                                  *prometheus.Desc
	xdpDrops, xdpKicks, xdpKickErrors                                                  *prometheus.Desc
}

// NewCollector returns a Collector reading src.
func NewCollector(src Sources) *Collector {
	return &Collector{
		src:       src,
		buildInfo: desc("build_info", "Always 1; the labels say which tapdns this is.", "version", "revision", "goversion"),
		requests: desc("dns_requests_total", "DNS queries parsed, by transport, address family (1: IPv4, 2: IPv6) and query type.",
			"proto", "family", "type"),
		responses:  desc("dns_responses_total", "DNS responses sent, by response code (rate-limit slips excluded).", "rcode"),
		dropped:    desc("dns_dropped_total", "Messages left unanswered because they were not queries (too short, or QR set)."),
		truncated:  desc("dns_truncated_total", "Responses sent with TC set."),
		cached:     desc("dns_cache_hits_total", "Responses copied from the precompiled answer cache."),
		rrlLimited: desc("dns_rrl_limited_total", "UDP responses over the response rate limit (dropped or slipped)."),
		rrlSlipped: desc("dns_rrl_slipped_total", "Rate-limited responses sent as a minimal TC=1 response."),

		frames:      desc("frames_total", "Ethernet frames read from and written to the TAP.", "direction"),
		bytes:       desc("frame_bytes_total", "Bytes of Ethernet frames read from and written to the TAP.", "direction"),
		linkDrops:   desc("link_drops_total", "Frames dropped at the link layer, by reason.", "reason"),
		tapErrors:   desc("tap_errors_total", "Failed TAP reads and writes.", "op"),
		stackFrames: desc("stack_frames_total", "Received frames handed to the gVisor stack."),

		fastAnswered: desc("fastpath_answered_total", "UDP queries answered on the link-layer fast path."),
		fastViaStack: desc("fastpath_via_stack_total", "Fast-path answers too large for one frame, sent fragmented through the gVisor stack."),
		fastPassed:   desc("fastpath_passed_total", "Frames the fast path handed to gVisor, by reason.", "reason"),
		fastDropped:  desc("fastpath_dropped_total", "Frames the fast path consumed without an answer, by reason.", "reason"),

		udpQueries: desc("stack_udp_queries_total", "UDP queries read through the gVisor stack."),
		udpReplies: desc("stack_udp_replies_total", "UDP replies written through the gVisor stack."),
		udpNoReply: desc("stack_udp_noreply_total", "UDP queries through the gVisor stack left unanswered."),
		udpSent:    desc("stack_udp_sent_total", "UDP datagrams sent from the DNS port outside a query's own handling (answers after recursion, large fast-path answers)."),
		udpErrors:  desc("stack_udp_errors_total", "gVisor UDP read or write errors."),
		tcpQueries: desc("tcp_queries_total", "DNS messages read from TCP connections."),
		tcpReplies: desc("tcp_replies_total", "DNS responses written to TCP connections."),
		tcpAccepted: desc("tcp_connections_accepted_total",
			"TCP connections accepted."),
		tcpActive: desc("tcp_connections_active", "TCP connections open now."),
		tcpClosed: desc("tcp_connections_closed_total", "TCP connections closed by tapdns, by reason.", "reason"),

		zoneSerial:  desc("zone_serial", "SOA serial of each zone served.", "zone", "file"),
		zoneRecords: desc("zone_records", "Records in each zone served.", "zone"),
		zoneWarnings: desc("zone_warnings", "Warnings found when each zone served was loaded "+
			"(records of one RRset with different TTLs, TXT strings over 255 octets, expired or not yet valid signatures, "+
			"broken NSEC/NSEC3 chains, unsigned RRsets, ...; tapdns check lists them).", "zone"),
		zoneSigned:     desc("zone_dnssec_signed", "1 for a signed zone (served with DNSSEC records to DO=1 queries), 0 otherwise.", "zone"),
		reloads:        desc("zone_reloads_total", "Zone reloads (SIGHUP or --watch)."),
		reloadFailures: desc("zone_reload_failures_total", "Reloads in which at least one zone file failed (it kept its old version)."),
		fileFailures:   desc("zone_file_failures_total", "Zone files that failed to load on reload."),
		lastReload:     desc("zone_last_reload_timestamp_seconds", "When the last reload finished (0: none since start)."),
		lastOK:         desc("zone_last_reload_success", "1 if the last load or reload loaded every zone file, 0 otherwise."),

		pcapPackets: desc("pcap_packets_total", "Frames written to the --pcap file."),
		pcapDropped: desc("pcap_dropped_total", "Frames not written to the --pcap file (size limit reached)."),
		pcapBytes:   desc("pcap_bytes", "Size of the --pcap file."),
		qlogDropped: desc("query_log_dropped_total", "--log-queries lines dropped because the log could not keep up."),

		localAnswers:     desc("dns_local_answers_total", "Answers from local data (--override, --hosts)."),
		blocked:          desc("dns_blocked_total", "NXDOMAIN answers (EDE 15) for names on a --block list."),
		recursed:         desc("dns_recursion_total", "Queries handed to recursion or forwarding (cache hits included)."),
		recursionRefused: desc("dns_recursion_refused_total", "Queries outside the zones REFUSED (EDE 18) because the client is not in --allow-recursion."),
		xdpDrops:         desc("xdp_drops_total", "With --xdp: frames lost at the AF_XDP sockets, by reason (the kernel's counters and ours).", "reason"),
		xdpKicks:         desc("xdp_syscalls_total", "With --xdp: system calls that kicked transmission (tx, one per burst) or woke reception (rx).", "dir"),
		xdpKickErrors:    desc("xdp_tx_kick_errors_total", "With --xdp: transmission kicks that failed (the frames go with the next)."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.requests, c.responses, c.dropped, c.truncated, c.cached, c.rrlLimited, c.rrlSlipped,
		c.frames, c.bytes, c.linkDrops, c.tapErrors, c.stackFrames,
		c.fastAnswered, c.fastViaStack, c.fastPassed, c.fastDropped,
		c.udpQueries, c.udpReplies, c.udpNoReply, c.udpSent, c.udpErrors,
		c.tcpQueries, c.tcpReplies, c.tcpAccepted, c.tcpActive, c.tcpClosed,
		c.zoneSerial, c.zoneRecords, c.zoneWarnings, c.zoneSigned, c.reloads, c.reloadFailures, c.fileFailures, c.lastReload, c.lastOK,
		c.pcapPackets, c.pcapDropped, c.pcapBytes, c.qlogDropped,
		c.localAnswers, c.blocked, c.recursed, c.recursionRefused,
		c.xdpDrops, c.xdpKicks, c.xdpKickErrors,
	} {
		ch <- d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	gauge(ch, c.buildInfo, 1, s.Version, s.Revision, s.GoVersion)
	if s.Requests != nil {
		r := s.Requests()
		for tcp, proto := range []string{"udp", "tcp"} {
			for v6, fam := range []string{"1", "2"} {
				for b := range dnssvc.NumQTypeBuckets {
					// Empty series are left out except for the common
					// types, so that a dashboard finds them from the start.
					if n := r.N[tcp][v6][b]; n > 0 || b < 8 {
						counter(ch, c.requests, n, proto, fam, dnssvc.QTypeBucketName(b))
					}
				}
			}
		}
	}
	if s.DNS != nil {
		d := s.DNS()
		for i, n := range d.Rcode {
			if n > 0 || i <= 5 {
				counter(ch, c.responses, n, rcodeNames[i])
			}
		}
		counter(ch, c.dropped, d.Dropped)
		counter(ch, c.truncated, d.Truncated)
		counter(ch, c.cached, d.Cached)
		counter(ch, c.rrlLimited, d.RRLLimited)
		counter(ch, c.rrlSlipped, d.RRLSlipped)
		counter(ch, c.localAnswers, d.Local)
		counter(ch, c.blocked, d.Blocked)
		counter(ch, c.recursed, d.Recursed)
		counter(ch, c.recursionRefused, d.RecursionRefused)
	}
	if s.Net != nil {
		n := s.Net()
		counter(ch, c.frames, n.FramesIn, "in")
		counter(ch, c.frames, n.FramesOut, "out")
		counter(ch, c.bytes, n.BytesIn, "in")
		counter(ch, c.bytes, n.BytesOut, "out")
		counter(ch, c.linkDrops, n.DropRunt, "runt")
		counter(ch, c.linkDrops, n.DropForeignMAC, "foreign_mac")
		counter(ch, c.linkDrops, n.DropEtherType, "ethertype")
		counter(ch, c.linkDrops, n.DropOversize, "oversize")
		counter(ch, c.tapErrors, n.TAPReadErrors, "read")
		counter(ch, c.tapErrors, n.TAPWriteErrors, "write")
		counter(ch, c.stackFrames, n.StackFrames)
		counter(ch, c.udpQueries, n.UDPQueries)
		counter(ch, c.udpReplies, n.UDPReplies)
		counter(ch, c.udpNoReply, n.UDPNoReply)
		counter(ch, c.udpSent, n.UDPSent)
		counter(ch, c.udpErrors, n.UDPErrors)
	}
	if s.TCP != nil {
		n := s.TCP()
		counter(ch, c.tcpQueries, n.Queries)
		counter(ch, c.tcpReplies, n.Replies)
		counter(ch, c.tcpAccepted, n.Accepted)
		gauge(ch, c.tcpActive, float64(n.Active))
		counter(ch, c.tcpClosed, n.Evicted, "evicted")
		counter(ch, c.tcpClosed, n.Refused, "refused")
		counter(ch, c.tcpClosed, n.Timeouts, "timeout")
		counter(ch, c.tcpClosed, n.BadFrames, "bad_frame")
		counter(ch, c.tcpClosed, n.QueryCap, "query_cap")
	}
	if s.Fast != nil {
		f := s.Fast()
		if f.Enabled {
			counter(ch, c.fastAnswered, f.Answered)
			counter(ch, c.fastViaStack, f.ViaStack)
			for i, n := range f.Passed {
				counter(ch, c.fastPassed, n, netstack.PassReason(i).String())
			}
			for i, n := range f.Dropped {
				counter(ch, c.fastDropped, n, netstack.DropReason(i).String())
			}
		}
	}
	if s.Zones != nil {
		if set := s.Zones(); set != nil {
			for _, z := range set.Zones() {
				name, file := zone.NameText(z.Origin), z.File
				if file == "" {
					file = "(embedded)"
				}
				gauge(ch, c.zoneSerial, float64(z.Serial), name, file)
				gauge(ch, c.zoneRecords, float64(z.Records()), name)
				gauge(ch, c.zoneWarnings, float64(z.WarningCount()), name)
				signed := 0.0
				if z.Signed() {
					signed = 1
				}
				gauge(ch, c.zoneSigned, signed, name)
			}
		}
	}
	if s.Reloads != nil {
		r := s.Reloads()
		counter(ch, c.reloads, r.Reloads)
		counter(ch, c.reloadFailures, r.ReloadFailures)
		counter(ch, c.fileFailures, r.FileFailures)
		ts := 0.0
		if !r.LastReload.IsZero() {
			ts = float64(r.LastReload.UnixNano()) / 1e9
		}
		gauge(ch, c.lastReload, ts)
		ok := 0.0
		if r.LastOK {
			ok = 1
		}
		gauge(ch, c.lastOK, ok)
	}
	if s.Capture != nil {
		p := s.Capture()
		counter(ch, c.pcapPackets, p.Packets)
		counter(ch, c.pcapDropped, p.Dropped)
		gauge(ch, c.pcapBytes, float64(p.Bytes))
	}
	if s.QueryLogDropped != nil {
		counter(ch, c.qlogDropped, s.QueryLogDropped())
	}
	if s.XDP != nil {
		if x := s.XDP(); x.Enabled {
			counter(ch, c.xdpDrops, x.RXRingFull, "rx_ring_full")
			counter(ch, c.xdpDrops, x.RXFillRingEmpty, "fill_ring_empty")
			counter(ch, c.xdpDrops, x.RXDropped, "rx_other")
			counter(ch, c.xdpDrops, x.RXInvalidDescs, "rx_invalid_desc")
			counter(ch, c.xdpDrops, x.TXInvalidDescs, "tx_invalid_desc")
			counter(ch, c.xdpDrops, x.TXNoFrame, "tx_no_frame")
			counter(ch, c.xdpKicks, x.TXKicks, "tx")
			counter(ch, c.xdpKicks, x.RXWakeups, "rx")
			counter(ch, c.xdpKickErrors, x.TXKickErrors)
		}
	}
}

// NewRegistry returns a registry with the Collector for src and the Go
// runtime and process collectors.
func NewRegistry(src Sources) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if src.Resolver != nil {
		cs = append(cs, newResolverCollector(src.Resolver))
	}
	if src.MDNS != nil {
		cs = append(cs, newMDNSCollector(src.MDNS))
	}
	if src.Transfers != nil {
		cs = append(cs, newXfrCollector(src.Transfers))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

// Server serves /metrics over HTTP. Listen binds at once (so that a
// privileged port can be bound before privileges are dropped); Serve runs
// it on a goroutine that Close waits for.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

// Listen binds addr (host:port; port 0 picks one) and returns a Server for
// reg that is not serving yet. logger may be nil.
func Listen(addr string, reg *prometheus.Registry, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "tapdns: metrics at /metrics")
	})
	s := &Server{
		ln:  ln,
		log: logger,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		},
	}
	return s, nil
}

// Addr returns the address listened on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve starts serving on a goroutine owned by s.
func (s *Server) Serve() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
}

// Close stops the server, waiting up to 2 s for scrapes in progress, and
// waits for the serving goroutine. It is idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.err = s.srv.Close()
		}
		_ = s.ln.Close() // Serve never ran: Shutdown does not know the listener
		s.wg.Wait()
	})
	return s.err
}
