package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/zone"
)

func TestOpsFlags(t *testing.T) {
	zf := filepath.Join("..", "..", "e2e", "testdata", "example.zone")
	tests := []struct {
		name string
		args []string
		want opsConfig
		err  string
	}{
		{"defaults", nil, opsConfig{watchInterval: time.Second, pcapMax: defaultPcapMax}, ""},
		{"all", []string{"--zone", zf, "--watch", "--watch-interval", "250ms", "--metrics", "127.0.0.1:9153",
			"--pcap", "/tmp/x.pcap", "--pcap-max-bytes", "4096", "--log-queries", "--user", "nobody"},
			opsConfig{watch: true, watchInterval: 250 * time.Millisecond, metrics: "127.0.0.1:9153",
				pcap: "/tmp/x.pcap", pcapMax: 4096, logQueries: true, user: "nobody"}, ""},
		{"watch without zones", []string{"--watch"}, opsConfig{}, "--watch needs --zone"},
		{"interval too short", []string{"--watch-interval", "1ms"}, opsConfig{}, "--watch-interval 1ms"},
		{"interval too long", []string{"--watch-interval", "2h"}, opsConfig{}, "--watch-interval 2h"},
		{"metrics without port", []string{"--metrics", "127.0.0.1"}, opsConfig{}, "--metrics"},
		{"metrics bad port", []string{"--metrics", "127.0.0.1:99999"}, opsConfig{}, "--metrics"},
		{"pcap max too small", []string{"--pcap-max-bytes", "10"}, opsConfig{}, "--pcap-max-bytes 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseConfig(append([]string{"--ip", "198.18.0.2"}, tc.args...), &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ops != tc.want {
				t.Errorf("ops = %+v, want %+v", c.ops, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	good := filepath.Join("..", "..", "e2e", "testdata", "example.zone")
	bad := filepath.Join("..", "..", "e2e", "testdata", "bad.zone")
	dir := t.TempDir()
	dup := filepath.Join(dir, "dup.zone")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dup, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"good", []string{"--zone", good}, 0, "zone " + good + ": origin example.test. serial 2026112901 records 26\n", ""},
		{"positional", []string{good}, 0, "origin example.test.", ""},
		{"bad", []string{"--zone", good, "--zone", bad}, 1, "", "zone " + bad + ": line 6: bad A record"},
		{"missing", []string{"--zone", filepath.Join(dir, "nope")}, 1, "", "no such file"},
		{"duplicate origin", []string{good, dup}, 1, "", "defined twice"},
		{"no files", nil, 2, "", "no zone files"},
		{"bad flag", []string{"--nope"}, 2, "", "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runForTest(append([]string{"check"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("tapdns check %v = %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
			if tc.code != 0 && stdout != "" {
				t.Errorf("failed check printed a summary: %q", stdout)
			}
		})
	}
}

func TestUserLookup(t *testing.T) {
	code, _, stderr := runForTest("--ip", "198.18.0.2", "--user", "no-such-user-tapdns")
	if code != exitUsage || !strings.Contains(stderr, "--user no-such-user-tapdns") {
		t.Errorf("unknown --user: exit %d, stderr %q; want %d and the name", code, stderr, exitUsage)
	}
	cr, err := lookupUser("root")
	if err != nil || cr.uid != 0 || cr.gid != 0 || len(cr.groups) == 0 {
		t.Errorf("lookupUser(root) = %+v, %v", cr, err)
	}
	if cr, err := lookupUser("0"); err != nil || cr.name != "root" {
		t.Errorf("lookupUser(0) = %+v, %v; want root", cr, err)
	}
}

func TestQuestionDecode(t *testing.T) {
	text := func(msg []byte) (string, uint16, bool) {
		var b [255]byte
		n, qtype, ok := questionName(msg, &b)
		return zone.NameText(string(b[:n])), qtype, ok
	}
	m := new(dns.Msg)
	m.SetQuestion("Www.Example.TEST.", dns.TypeAAAA)
	q, _ := m.Pack()
	if name, qtype, ok := text(q); !ok || name != "Www.Example.TEST." || qtype != dns.TypeAAAA {
		t.Errorf("question = %q %d %v", name, qtype, ok)
	}
	m.SetQuestion("a\\.b.\\000.", dns.TypeA)
	q, _ = m.Pack()
	if name, _, ok := text(q); !ok || name != "a\\.b.\\000." {
		t.Errorf("escaped question = %q %v", name, ok)
	}
	m.SetQuestion(".", dns.TypeNS)
	q, _ = m.Pack()
	if name, _, ok := text(q); !ok || name != "." {
		t.Errorf("root question = %q %v", name, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 12), append(q[:12:12], 5, 'a'), append(q[:12:12], 0xc0, 12, 0, 1, 0, 1)} {
		if _, _, ok := text(bad); ok {
			t.Errorf("question(%x) ok", bad)
		}
	}
	if got := rcodeText(3); got != "NXDOMAIN" {
		t.Errorf("rcodeText = %q", got)
	}
	if got := typeText(65000); got != "TYPE65000" {
		t.Errorf("typeText(65000) = %q", got)
	}
}

func testServer(t *testing.T) *dnssvc.Server {
	z, err := zone.Parse(bytes.NewReader(defaultZone), "", defaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		t.Fatal(err)
	}
	return dnssvc.New(dnssvc.Config{}, set, nil)
}

func TestQueryLog(t *testing.T) {
	svc := testServer(t)
	m := new(dns.Msg)
	m.SetQuestion("www.tapdns.test.", dns.TypeA)
	q, _ := m.Pack()
	dst := make([]byte, 0, 65535)
	meta := netstack.Meta{Client: netip.MustParseAddrPort("198.18.0.1:4242"), Fast: true}

	// Off: no allocation in the adapter.
	var off netstack.Handler = newHandler(svc, nil)
	if n := testing.AllocsPerRun(200, func() { off.HandlePacket(dst, q, meta) }); n != 0 {
		t.Errorf("HandlePacket without --log-queries: %v allocations, want 0", n)
	}

	var buf syncBuf
	qlog := newQueryLog(slog.New(slog.NewTextHandler(&buf, nil)))
	on := newHandler(svc, qlog)
	// On: queueing an entry allocates nothing either; the writer is not
	// running yet, so these fill the queue (and the rest are dropped).
	if n := testing.AllocsPerRun(200, func() { on.HandlePacket(dst, q, meta) }); n != 0 {
		t.Errorf("HandlePacket with --log-queries: %v allocations, want 0", n)
	}
	for len(qlog.ch) > 0 {
		<-qlog.ch
	}
	ctx, cancel := context.WithCancel(context.Background())
	qlog.start(ctx)
	resp := on.HandlePacket(dst, q, meta)
	size := len(resp)
	resp[2] |= 0x80 // a response sent to us is dropped
	w := &msgSink{}
	on.ServeTCP(w, resp, dnstcp.Meta{Client: meta.Client})
	cancel()
	qlog.stop()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"msg=query", "client=198.18.0.1:4242", "qname=www.tapdns.test.", "qtype=A", "rcode=NOERROR",
		"proto=udp", "path=fast", "size=" + strconv.Itoa(size)} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("query log line %q lacks %q", lines[0], want)
		}
	}
	if line := lines[1]; !strings.Contains(line, "rcode=-") || !strings.Contains(line, "proto=tcp") || !strings.Contains(line, "path=stack") {
		t.Errorf("dropped message logged as %q", line)
	}
	if w.n != 0 {
		t.Errorf("a response sent to us got %d replies", w.n)
	}
}

// TestQueryLogNeverBlocks: a log that cannot keep up drops lines, counts
// them, and never delays the query path.
func TestQueryLogNeverBlocks(t *testing.T) {
	svc := testServer(t)
	m := new(dns.Msg)
	m.SetQuestion("www.tapdns.test.", dns.TypeA)
	q, _ := m.Pack()
	stuck := &blockedWriter{release: make(chan struct{})}
	qlog := newQueryLog(slog.New(slog.NewTextHandler(stuck, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	qlog.start(ctx)
	h := newHandler(svc, qlog)
	dst := make([]byte, 0, 4096)
	done := make(chan struct{})
	go func() {
		for range 2 * queryLogQueue {
			h.HandlePacket(dst, q, netstack.Meta{Client: netip.MustParseAddrPort("198.18.0.1:1")})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the query path blocked behind a stuck log")
	}
	if qlog.Dropped() == 0 {
		t.Error("no line counted as dropped with a stuck log")
	}
	close(stuck.release)
	cancel()
	qlog.stop()
}

type blockedWriter struct{ release chan struct{} }

func (b *blockedWriter) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// msgSink counts the replies written to it.
type msgSink struct{ n int }

func (m *msgSink) WriteMsg([]byte) error { m.n++; return nil }

// syncBuf is a bytes.Buffer safe for the log writer and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExtraP checks that a zone load runs with one P more than serving
// does and that the count is put back afterwards.
func TestExtraP(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	restore := extraP()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Errorf("GOMAXPROCS during a load = %d, want %d", got, before+1)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after a load = %d, want %d", got, before)
	}
}
