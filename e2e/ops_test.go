package e2e

// End-to-end tests of the operating features: SIGHUP and --watch reloads,
// --metrics, --pcap, --log-queries and --user.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/labtest"
	"github.com/tapdns/tapdns/internal/pcap/pcaptest"
)

const metricsAddr = "127.0.0.1:9153"

// versionZone is the zone of reload version v: serial v, and an MX whose
// preference and target address both carry v, so that an answer mixing
// two versions is visible.
func versionZone(v int) string {
	return fmt.Sprintf(`$ORIGIN reload.test.
$TTL 60
@     IN SOA ns1 hostmaster %d 7200 3600 1209600 60
      IN NS  ns1
      IN MX  %d mail
ns1   IN A   198.18.0.2
mail  IN A   198.18.0.%d
`, v, v, v)
}

// writeZone replaces path atomically (write and rename), as operators
// should.
func writeZone(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// publicDir makes a directory others can read, for a tapdns running as
// another user (t.TempDir is mode 0700).
func publicDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir's parent, made per test, is 0700 too.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mxVersion queries reload.test MX over c and returns the version the
// answer belongs to, or an error for a missing, failed or mixed answer.
func mxVersion(c net.Conn, id uint16, buf []byte) (int, error) {
	m := new(dns.Msg)
	m.SetQuestion("reload.test.", dns.TypeMX)
	m.Id = id
	m.RecursionDesired = false
	q, _ := m.Pack()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := c.Write(q); err != nil {
		return 0, err
	}
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0, fmt.Errorf("query %d: %w", id, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil || r.Id != id {
			continue // a late answer to an earlier query
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			return 0, fmt.Errorf("query %d: rcode %s, %d answers", id, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		mx, ok := r.Answer[0].(*dns.MX)
		if !ok {
			return 0, fmt.Errorf("query %d: answer %v", id, r.Answer[0])
		}
		addr := ""
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok {
				addr = a.A.String()
			}
		}
		if want := fmt.Sprintf("198.18.0.%d", mx.Preference); addr != want {
			return 0, fmt.Errorf("query %d: MX %d with mail A %q: a mix of versions (want %s)", id, mx.Preference, addr, want)
		}
		return int(mx.Preference), nil
	}
}

// scrape fetches /metrics from inside ns and returns the samples as
// "name{labels}" -> value, as written by the exposition (labels sorted by
// client_golang).
func scrape(t *testing.T, ns *labtest.NS) map[string]float64 {
	t.Helper()
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return ns.Dial(network, addr)
		}},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("scrape: bad line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad value in %q", line)
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return m
}

// metric returns a sample, failing the test if it is absent.
func metric(t *testing.T, m map[string]float64, key string) float64 {
	t.Helper()
	v, ok := m[key]
	if !ok {
		var near []string
		name, _, _ := strings.Cut(key, "{")
		for k := range m {
			if strings.HasPrefix(k, name) {
				near = append(near, k)
			}
		}
		t.Fatalf("no sample %s; samples of that name: %v", key, near)
	}
	return v
}

// waitMetric polls until cond holds for the sample key (5 s at most).
func waitMetric(t *testing.T, ns *labtest.NS, key string, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok := scrape(t, ns)[key]
		if ok && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present %v) after 5 s", key, v, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReloadUnderLoad swaps the zone several times with SIGHUP while four
// Go clients send 2,000 UDP queries in all: every query is answered, and
// every answer is wholly one version's. Then a broken zone file is
// reloaded: the old data keeps being served, and the failure shows in the
// log (file and line) and the metrics.
func TestReloadUnderLoad(t *testing.T) {
	dir := publicDir(t)
	zf := filepath.Join(dir, "reload.zone")
	writeZone(t, zf, versionZone(1))
	ns, p := startTapdns(t, "--zone", zf, "--metrics", metricsAddr)

	const (
		clients   = 4
		perClient = 500
		versions  = 6
	)
	var (
		wg       sync.WaitGroup
		answered atomic.Int64
		seen     [versions + 2]atomic.Int64
		errMu    sync.Mutex
		errs     []error
		running  atomic.Int64
	)
	running.Store(clients)
	for c := range clients {
		conn, err := ns.Dial("udp", appliance4+":53")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			buf := make([]byte, 1500)
			for i := range perClient {
				v, err := mxVersion(conn, uint16(c*perClient+i), buf)
				if err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
					continue
				}
				if v < 1 || v > versions {
					errMu.Lock()
					errs = append(errs, fmt.Errorf("answer of version %d, never written", v))
					errMu.Unlock()
					continue
				}
				answered.Add(1)
				seen[v].Add(1)
				// Paced so that the reloads fall among the queries.
				time.Sleep(500 * time.Microsecond)
			}
		}()
	}
	// Reload while the clients run (bounded: versions-1 reloads).
	for v := 2; v <= versions && running.Load() > 0; v++ {
		time.Sleep(50 * time.Millisecond)
		writeZone(t, zf, versionZone(v))
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(err)
	}
	if got := answered.Load(); got != clients*perClient {
		t.Errorf("%d of %d queries answered", got, clients*perClient)
	}
	var dist []string
	distinct := 0
	for v := range seen {
		if n := seen[v].Load(); n > 0 {
			distinct++
			dist = append(dist, fmt.Sprintf("v%d:%d", v, n))
		}
	}
	t.Logf("answers by version: %s", strings.Join(dist, " "))
	if distinct < 2 {
		t.Errorf("answers came from %d version(s); the reloads did not overlap the queries", distinct)
	}

	// Make sure the last version is in: SIGHUP until the serial shows.
	writeZone(t, zf, versionZone(versions))
	p.Signal(syscall.SIGHUP)
	serialKey := fmt.Sprintf(`tapdns_zone_serial{file="%s",zone="reload.test."}`, zf)
	waitMetric(t, ns, serialKey, func(v float64) bool { return v == versions })
	before := scrape(t, ns)
	if v := metric(t, before, "tapdns_zone_last_reload_success"); v != 1 {
		t.Errorf("tapdns_zone_last_reload_success = %v after good reloads, want 1", v)
	}

	// A broken file: the old version stays, the failure is logged and counted.
	broken := strings.Replace(versionZone(versions+1), fmt.Sprintf("198.18.0.%d", versions+1), "198.18.0.300", 1)
	writeZone(t, zf, broken)
	p.Signal(syscall.SIGHUP)
	reloads := metric(t, before, "tapdns_zone_reloads_total")
	waitMetric(t, ns, "tapdns_zone_reloads_total", func(v float64) bool { return v > reloads })
	after := scrape(t, ns)
	if v := metric(t, after, "tapdns_zone_reload_failures_total"); v != metric(t, before, "tapdns_zone_reload_failures_total")+1 {
		t.Errorf("tapdns_zone_reload_failures_total = %v, want one more than %v", v, metric(t, before, "tapdns_zone_reload_failures_total"))
	}
	if v := metric(t, after, "tapdns_zone_last_reload_success"); v != 0 {
		t.Errorf("tapdns_zone_last_reload_success = %v after a failed reload, want 0", v)
	}
	if v := metric(t, after, serialKey); v != versions {
		t.Errorf("serial after a failed reload = %v, want %d (the old version)", v, versions)
	}
	conn, err := ns.Dial("udp", appliance4+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v, err := mxVersion(conn, 60000, make([]byte, 1500)); err != nil || v != versions {
		t.Errorf("after a failed reload: version %d, %v; want %d", v, err, versions)
	}
	if want := "zone " + zf + ": line 7: "; !strings.Contains(p.Stderr(), want) {
		t.Errorf("log does not name the failure %q:\n%s", want, p.Stderr())
	}
	stopWithin(t, p, syscall.SIGTERM)
}

// TestMetrics checks that the counters exported move with queries over
// each transport and family, and that the fast path's answers and the
// zones are there.
func TestMetrics(t *testing.T) {
	ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"), "--metrics", metricsAddr)
	m0 := scrape(t, ns)
	udp4 := `tapdns_dns_requests_total{family="1",proto="udp",type="A"}`
	tcp6 := `tapdns_dns_requests_total{family="2",proto="tcp",type="AAAA"}`
	noerr := `tapdns_dns_responses_total{rcode="NOERROR"}`
	nx := `tapdns_dns_responses_total{rcode="NXDOMAIN"}`
	fast := `tapdns_fastpath_answered_total`
	for range 3 {
		dig(t, ns, appliance4, "www.example.test", "A")
	}
	dig(t, ns, appliance6, "www.example.test", "AAAA", "+tcp")
	dig(t, ns, appliance4, "nope.example.test", "A")
	m1 := scrape(t, ns)
	for _, c := range []struct {
		key  string
		more float64
	}{{udp4, 4}, {tcp6, 1}, {noerr, 4}, {nx, 1}, {fast, 4}} {
		if d := metric(t, m1, c.key) - metric(t, m0, c.key); d != c.more {
			t.Errorf("%s grew by %v, want %v", c.key, d, c.more)
		}
	}
	if v := metric(t, m1, `tapdns_frames_total{direction="in"}`); v == 0 {
		t.Error("no frames in counted")
	}
	if v := metric(t, m1, `tapdns_tcp_connections_accepted_total`); v < 1 {
		t.Errorf("tapdns_tcp_connections_accepted_total = %v, want >= 1", v)
	}
	if v := metric(t, m1, fmt.Sprintf(`tapdns_zone_serial{file="%s",zone="example.test."}`, testdata(t, "example.zone"))); v != 2026112901 {
		t.Errorf("zone serial = %v", v)
	}
	found := false
	for k, v := range m1 {
		if strings.HasPrefix(k, "tapdns_build_info{") && v == 1 {
			found = true
		}
	}
	if !found {
		t.Error("no tapdns_build_info")
	}
	stopWithin(t, p, syscall.SIGTERM)
}

// TestWatch checks that --watch reloads a changed zone file on its own.
func TestWatch(t *testing.T) {
	dir := publicDir(t)
	zf := filepath.Join(dir, "reload.zone")
	writeZone(t, zf, versionZone(1))
	ns, p := startTapdns(t, "--zone", zf, "--watch", "--watch-interval", "100ms")
	writeZone(t, zf, versionZone(2))
	conn, err := ns.Dial("udp", appliance4+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(10 * time.Second)
	for id := uint16(1); ; id++ {
		v, err := mxVersion(conn, id, buf)
		if err != nil {
			t.Fatal(err)
		}
		if v == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still version %d 10 s after the file changed; stderr:\n%s", v, p.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopWithin(t, p, syscall.SIGTERM)
}

// TestPcapAndQueryLog captures a run with --pcap and reads the file back
// with tshark: the UDP (fast path) and TCP queries and their answers are
// all there. --log-queries logs each query.
func TestPcapAndQueryLog(t *testing.T) {
	labtest.RequireTools(t, "tshark")
	dir := publicDir(t)
	pcapFile := filepath.Join(dir, "tapdns.pcap")
	ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"), "--pcap", pcapFile, "--log-queries")
	dig(t, ns, appliance4, "www.example.test", "A")
	dig(t, ns, appliance4, "mail.example.test", "A", "+tcp")
	stopWithin(t, p, syscall.SIGTERM)

	// tshark only reads a file here, but runs in the lab all the same.
	out, err := ns.Run(t, "tshark", "-n", "-r", pcapFile, "-Y", "dns", "-T", "fields",
		"-e", "dns.qry.name", "-e", "dns.flags.response", "-e", "tcp.srcport", "-e", "udp.srcport")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]bool{}
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 4 {
			continue
		}
		proto := "udp"
		if f[2] != "" {
			proto = "tcp"
		}
		kind := "query"
		if f[1] == "1" || f[1] == "True" {
			kind = "response"
		}
		got[f[0]+" "+proto+" "+kind] = true
	}
	for _, want := range []string{
		"www.example.test udp query", "www.example.test udp response",
		"mail.example.test tcp query", "mail.example.test tcp response",
	} {
		if !got[want] {
			t.Errorf("capture lacks %s; tshark saw %v\n%s", want, got, out)
		}
	}
	// Our own reader agrees, and every frame counted was captured: the
	// shutdown stats' FramesIn+FramesOut equal the packets in the file.
	packets := countPcap(t, pcapFile)
	var in, outN int
	stats := p.Stderr()[strings.LastIndex(p.Stderr(), "msg=stopped"):]
	if _, err := fmt.Sscanf(stats[strings.Index(stats, "FramesIn:"):], "FramesIn:%d", &in); err != nil {
		t.Fatalf("no FramesIn in %q", stats)
	}
	if _, err := fmt.Sscanf(stats[strings.Index(stats, "FramesOut:"):], "FramesOut:%d", &outN); err != nil {
		t.Fatalf("no FramesOut in %q", stats)
	}
	if packets != in+outN {
		t.Errorf("%d packets in the capture, want FramesIn+FramesOut = %d+%d", packets, in, outN)
	}

	// Frames of the lab's own traffic (ARP/NDP) are captured too.
	if out, err := ns.Run(t, "tshark", "-n", "-r", pcapFile, "-Y", "arp or icmpv6"); err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("no ARP or ICMPv6 frames in the capture (%v)", err)
	}

	for _, want := range []string{
		`msg=query`, `client=198.18.0.1:`, `qname=www.example.test. qtype=A rcode=NOERROR`, `proto=udp path=fast`,
		`qname=mail.example.test. qtype=A rcode=NOERROR`, `proto=tcp path=stack`,
	} {
		if !strings.Contains(p.Stderr(), want) {
			t.Errorf("query log lacks %q:\n%s", want, p.Stderr())
		}
	}
}

// TestUser starts tapdns as root with --user nobody: after startup every
// uid and gid of the process is nobody's, and it still answers, reloads
// and serves metrics (bound before the switch).
func TestUser(t *testing.T) {
	requireLab(t)
	out, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		labtest.SkipOrFailf(t, "no user nobody (%v)", err)
	}
	uid := strings.TrimSpace(string(out))
	out, err = exec.Command("id", "-g", "nobody").Output()
	if err != nil {
		t.Fatal(err)
	}
	gid := strings.TrimSpace(string(out))

	dir := publicDir(t)
	zf := filepath.Join(dir, "reload.zone")
	writeZone(t, zf, versionZone(1))
	ns, p := startTapdns(t, "--zone", zf, "--user", "nobody", "--metrics", metricsAddr)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		t.Fatal(err)
	}
	var uids, gids, groups string
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "Uid":
			uids = strings.Join(strings.Fields(v), " ")
		case "Gid":
			gids = strings.Join(strings.Fields(v), " ")
		case "Groups":
			groups = strings.Join(strings.Fields(v), " ")
		}
	}
	if want := strings.Repeat(uid+" ", 3) + uid; uids != want {
		t.Errorf("Uid (real, effective, saved, fs) = %q, want %q", uids, want)
	}
	if want := strings.Repeat(gid+" ", 3) + gid; gids != want {
		t.Errorf("Gid = %q, want %q", gids, want)
	}
	if strings.Contains(" "+groups+" ", " 0 ") {
		t.Errorf("still in group 0: Groups %q", groups)
	}
	r := dig(t, ns, appliance4, "reload.test", "MX", "+tcp")
	if r.Status != "NOERROR" || len(r.Answer) != 1 {
		t.Errorf("as nobody: MX answer %v %v", r.Status, r.Answer)
	}
	writeZone(t, zf, versionZone(2))
	p.Signal(syscall.SIGHUP)
	waitMetric(t, ns, fmt.Sprintf(`tapdns_zone_serial{file="%s",zone="reload.test."}`, zf), func(v float64) bool { return v == 2 })
	stopWithin(t, p, syscall.SIGTERM)
	if strings.Contains(p.Stderr(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", p.Stderr())
	}
}

// TestBridgeLab runs scripts/bridge-lab.sh up and down with the test's
// binary: both appliances answer on the bridge, and down leaves nothing.
func TestBridgeLab(t *testing.T) {
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	name := fmt.Sprintf("tapdns-brtest-%d", os.Getpid())
	script, err := filepath.Abs(filepath.Join("..", "scripts", "bridge-lab.sh"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(action string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, script, action, name)
		c.Env = append(os.Environ(), "TAPDNS="+bin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("bridge-lab.sh %s: %v\n%s", action, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		// Idempotent: a no-op after a successful down.
		c := exec.Command(script, "down", name)
		c.Env = append(os.Environ(), "TAPDNS="+bin)
		_ = c.Run()
	})
	out := run("up")
	for _, want := range []string{`("appliance-1")`, `("appliance-2")`, "www.tapdns.test.\t3600\tIN\tA\t198.18.0.80"} {
		if !strings.Contains(out, want) {
			t.Errorf("bridge-lab.sh up output lacks %q:\n%s", want, out)
		}
	}
	run("down")
	if list, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(list), name) {
		t.Errorf("namespace %s still exists after down", name)
	}
	if _, err := os.Stat("/run/tapdns-bridge-lab/" + name); !os.IsNotExist(err) {
		t.Errorf("state directory left behind (%v)", err)
	}
}

// TestPcapLimit checks that --pcap-max-bytes caps the capture file: it
// stays a valid pcap file under the cap, the frames left out are counted,
// and a warning is logged once.
func TestPcapLimit(t *testing.T) {
	dir := publicDir(t)
	pcapFile := filepath.Join(dir, "small.pcap")
	ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"), "--pcap", pcapFile, "--pcap-max-bytes", "1024", "--metrics", metricsAddr)
	for range 6 {
		dig(t, ns, appliance4, "www.example.test", "A")
	}
	waitMetric(t, ns, "tapdns_pcap_dropped_total", func(v float64) bool { return v > 0 })
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(p.Stderr(), "pcap size limit reached") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stopWithin(t, p, syscall.SIGTERM)
	if n := strings.Count(p.Stderr(), "pcap size limit reached"); n != 1 {
		t.Errorf("size limit warning logged %d times, want 1", n)
	}
	fi, err := os.Stat(pcapFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1024 || fi.Size() < 24+16+42 {
		t.Errorf("capture is %d bytes, want at most 1024 and some packets", fi.Size())
	}
	countPcap(t, pcapFile)
}

// countPcap reads a capture with our pcap reader and returns the number
// of packets; a file that is not valid pcap fails the test.
func countPcap(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcaptest.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	packets := 0
	for {
		if _, err := r.Next(); err == io.EOF {
			return packets
		} else if err != nil {
			t.Fatalf("%s: packet %d: %v", file, packets, err)
		}
		packets++
	}
}

// TestWithoutRoot runs tapdns as nobody from the start, the two ways the
// README documents: on a persistent TAP owned by nobody (no privilege at
// all), and with CAP_NET_ADMIN as a file capability on a TAP owned by
// root; without either, attaching to root's TAP fails.
func TestWithoutRoot(t *testing.T) {
	requireLab(t)
	labtest.RequireTools(t, "setpriv", "setcap", "unshare")
	uidOut, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		labtest.SkipOrFailf(t, "no user nobody (%v)", err)
	}
	gidOut, err := exec.Command("id", "-g", "nobody").Output()
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := strings.TrimSpace(string(uidOut)), strings.TrimSpace(string(gidOut))
	// The test binary's directory is private to root: run a copy.
	src, err := os.ReadFile(labtest.BuildTapdns(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		owned    bool // the TAP belongs to nobody
		withCaps bool // the binary has cap_net_admin=ep
	}{
		{"persistent TAP owned by the user", true, false},
		{"CAP_NET_ADMIN file capability", false, true},
		{"neither (must fail)", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(publicDir(t), "tapdns")
			if err := os.WriteFile(bin, src, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.withCaps {
				if out, err := exec.Command("setcap", "cap_net_admin=ep", bin).CombinedOutput(); err != nil {
					labtest.SkipOrFailf(t, "setcap failed (file system without capabilities?): %v: %s", err, out)
				}
			}
			ns := labtest.NewNS(t, "e2e")
			args := []string{"ip", "tuntap", "add", "dev", "tap0", "mode", "tap"}
			// A TAP without an owner may be attached to by anyone who can
			// open /dev/net/tun; the other cases' TAP belongs to root.
			if tc.owned {
				args = append(args, "user", uid)
			} else {
				args = append(args, "user", "0")
			}
			ns.MustRun(t, args...)
			ns.MustRun(t, "ip", "addr", "add", kernel4, "dev", "tap0")
			ns.MustRun(t, "ip", "link", "set", "lo", "up")
			ns.MustRun(t, "ip", "link", "set", "tap0", "up")
			// Most distributions make /dev/net/tun mode 0666 (the kernel
			// checks the TAP's owner or CAP_NET_ADMIN); some hosts and
			// containers make it 0600. tapdns gets a 0666 node of its own
			// in a private mount namespace, so nothing outside changes.
			const script = `mount -t tmpfs -o mode=755 tapdns-tun /dev/net &&
				mknod -m 666 /dev/net/tun c 10 200 &&
				exec setpriv --reuid="$1" --regid="$2" --clear-groups --inh-caps=-all "$3" --tap tap0 --ip "$4"`
			p := ns.Start(t, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
				uid, gid, bin, appliance4+"/24")
			if !tc.owned && !tc.withCaps {
				code, ok := p.Wait(10 * time.Second)
				if !ok || code != 1 || !strings.Contains(p.Stderr(), "not allowed to attach") {
					t.Errorf("nobody attaching to root's TAP without CAP_NET_ADMIN: exit %d (exited %v), want 1 and 'not allowed to attach'; stderr:\n%s",
						code, ok, p.Stderr())
				}
				return
			}
			p.WaitReady(t, appliance4)
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
			if err != nil {
				t.Fatal(err)
			}
			for line := range strings.Lines(string(status)) {
				if k, v, _ := strings.Cut(line, ":"); k == "Uid" {
					if got, want := strings.Join(strings.Fields(v), " "), strings.Repeat(uid+" ", 3)+uid; got != want {
						t.Errorf("Uid = %q, want %q", got, want)
					}
				}
			}
			r := dig(t, ns, appliance4, "www.tapdns.test", "A", "+tcp")
			if r.Status != "NOERROR" || len(r.Answer) != 1 {
				t.Errorf("as nobody: %s %v", r.Status, r.Answer)
			}
			stopWithin(t, p, syscall.SIGTERM)
		})
	}
}

// TestSystemdUnit checks scripts/tapdns.service with systemd-analyze
// verify (pointed at a real binary): no unknown keys, no bad values.
func TestSystemdUnit(t *testing.T) {
	labtest.RequireTools(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join("..", "scripts", "tapdns.service"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tapdns.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/tapdns", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
