package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// TestDefaultZone checks that tapdns without --zone serves its embedded
// zone and logs one startup line (here as JSON) naming its addresses and the
// zone with its serial.
func TestDefaultZone(t *testing.T) {
	ns, p := startTapdns(t, "--log-format", "json")
	r := dig(t, ns, appliance4, "www.tapdns.test", "A")
	if want := []string{"www.tapdns.test. 3600 IN A 198.18.0.80"}; r.Status != "NOERROR" || !r.Flags["aa"] || !sameRecords(r.Answer, want) {
		t.Errorf("www.tapdns.test A: status %s flags %v answer %q; want NOERROR aa %q", r.Status, r.Flags, r.Answer, want)
	}
	r = dig(t, ns, appliance6, "ns0.tapdns.test", "AAAA", "+tcp")
	if want := []string{"ns0.tapdns.test. 3600 IN AAAA 2001:2::2"}; r.Status != "NOERROR" || !sameRecords(r.Answer, want) {
		t.Errorf("ns0.tapdns.test AAAA over TCP/IPv6: status %s answer %q; want NOERROR %q", r.Status, r.Answer, want)
	}

	var startup []map[string]any
	for line := range strings.Lines(p.Stderr()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("--log-format json, but stderr has a line that is not JSON: %q (%v)", line, err)
			continue
		}
		if rec["msg"] == "serving" {
			startup = append(startup, rec)
		}
	}
	if len(startup) != 1 {
		t.Fatalf("%d startup lines (msg=serving), want 1; stderr:\n%s", len(startup), p.Stderr())
	}
	got := fmt.Sprint(startup[0]["tap"], " ", startup[0]["ip"], " ", startup[0]["ip6"], " ", startup[0]["zones"])
	if want := "tap0 198.18.0.2/24 2001:2::2/64 [tapdns.test. serial 2026112901 from (embedded)]"; got != want {
		t.Errorf("startup line tap, ip, ip6, zones = %q, want %q", got, want)
	}
}

// TestSignals checks that SIGTERM and SIGINT stop tapdns with status 0
// within a second (see stopLimit), and that a TAP made beforehand is left in place.
func TestSignals(t *testing.T) {
	requireLab(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"))
			// Some traffic first, so that there is state to tear down.
			dig(t, ns, appliance4, "www.example.test", "A", "+tcp")
			stopWithin(t, p, sig)
			if !ns.LinkExists(t, "tap0") {
				t.Error("the TAP made before tapdns started is gone after it exited")
			}
		})
	}
}

// stopLimit is how soon tapdns must exit after SIGTERM or SIGINT. A -race
// build is several times slower at everything, and shares the machine with
// the rest of the race-enabled suite, so it gets more.
func stopLimit() time.Duration {
	if labtest.Race {
		return 3 * time.Second
	}
	return time.Second
}

// stopWithin sends sig to p and checks that it exits with status 0 within
// stopLimit. If it is still running 5 s later it is sent SIGQUIT, so that
// its goroutines are dumped into the log of the failure.
func stopWithin(t *testing.T, p *labtest.Proc, sig syscall.Signal) {
	t.Helper()
	start := time.Now()
	if err := p.Signal(sig); err != nil {
		t.Fatal(err)
	}
	code, ok := p.Wait(stopLimit() + 5*time.Second)
	if !ok {
		_ = p.Signal(syscall.SIGQUIT)
		p.Wait(5 * time.Second)
		t.Fatalf("tapdns still running %v after %v; stderr (with a goroutine dump):\n%s", time.Since(start).Round(time.Millisecond), sig, p.Stderr())
	}
	took := time.Since(start)
	t.Logf("exited after %v in %v", sig, took.Round(time.Millisecond))
	if took > stopLimit() {
		t.Errorf("tapdns took %v to exit after %v, want at most %v", took.Round(time.Millisecond), sig, stopLimit())
	}
	if code != 0 {
		t.Errorf("exit status after %v = %d, want 0; stderr:\n%s", sig, code, p.Stderr())
	}
}

// TestCreatedTAPRemoved checks that a TAP tapdns had to create works and is
// removed when tapdns exits. It also exercises the flags the other labs
// leave at their defaults: --netmask, --mac, --port and --queues (a TAP
// tapdns creates with two queues is multi-queue).
func TestCreatedTAPRemoved(t *testing.T) {
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	const (
		tap = "tdns7"
		mac = "02:00:00:00:00:02"
	)
	p := ns.StartTapdns(t, bin, "--tap", tap, "--ip", appliance4, "--netmask", "255.255.255.0",
		"--mac", mac, "--port", "5353", "--queues", "2")
	deadline := time.Now().Add(10 * time.Second)
	for !ns.LinkExists(t, tap) {
		select {
		case <-p.Done():
			t.Fatalf("tapdns exited before creating %s; stderr:\n%s", tap, p.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tapdns did not create %s within 10 s; stderr:\n%s", tap, p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns.MustRun(t, "ip", "addr", "add", kernel4, "dev", tap)
	ns.MustRun(t, "ip", "link", "set", tap, "up")
	p.WaitReady(t, appliance4+":5353")

	if out := ns.MustRun(t, "ip", "-d", "link", "show", "dev", tap); !strings.Contains(out, "multi_queue numqueues 2") {
		t.Errorf("with --queues 2, %s is not a 2-queue TAP:\n%s", tap, out)
	}
	for _, tcp := range []string{"+notcp", "+tcp"} {
		r := dig(t, ns, appliance4, "-p", "5353", tcp, "www.tapdns.test", "A")
		if want := []string{"www.tapdns.test. 3600 IN A 198.18.0.80"}; !sameRecords(r.Answer, want) {
			t.Errorf("dig -p 5353 %s: answer %q, want %q", tcp, r.Answer, want)
		}
	}
	if out := ns.MustRun(t, "ip", "neigh", "show", appliance4, "dev", tap); !strings.Contains(out, "lladdr "+mac) {
		t.Errorf("kernel's neighbour entry for %s = %q, want lladdr %s (--mac)", appliance4, out, mac)
	}

	stopWithin(t, p, syscall.SIGTERM)
	if ns.LinkExists(t, tap) {
		t.Errorf("%s, created by tapdns, still exists after it exited", tap)
	}
}

// TestStartupErrors checks the exit statuses of configurations that must
// not start: 2 for usage and zone errors (with the file and line of a bad
// zone on stderr), 1 for a device that cannot be attached to. They run inside a
// namespace all the same, in case one does start.
func TestStartupErrors(t *testing.T) {
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	// A TUN device (layer 3): opening it as a TAP fails with EINVAL.
	var tunErr error
	if _, err := ns.Run(t, "ip", "tuntap", "add", "dev", "notap0", "mode", "tun"); err != nil {
		tunErr = err
	}
	bad := testdata(t, "bad.zone")
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string // a substring
		needsTUN bool
	}{
		{"bad zone", []string{"--ip", appliance4, "--zone", bad}, 2, "zone " + bad + ": line 6: ", false},
		{"missing zone", []string{"--ip", appliance4, "--zone", bad + ".missing"}, 2, bad + ".missing", false},
		{"unknown flag", []string{"--ip", appliance4, "--frobnicate"}, 2, "flag provided but not defined", false},
		{"bad address", []string{"--ip", "198.18.0.256"}, 2, "not an IPv4 address", false},
		{"netmask disagrees", []string{"--ip", appliance4 + "/24", "--netmask", "255.255.0.0"}, 2, "disagree", false},
		{"not a TAP", []string{"--tap", "notap0", "--ip", appliance4}, 1, "tap notap0: is a TUN (layer 3) device, not a TAP device", true},
		{"loopback", []string{"--tap", "lo", "--ip", appliance4}, 1, "tap lo: is the loopback device, not a TAP device", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsTUN && tunErr != nil {
				labtest.SkipOrFailf(t, "cannot make a TUN device: %v", tunErr)
			}
			p := ns.StartTapdns(t, bin, tc.args...)
			code, ok := p.Wait(10 * time.Second)
			if !ok {
				t.Fatalf("tapdns %s still running after 10 s; stderr:\n%s", strings.Join(tc.args, " "), p.Stderr())
			}
			if code != tc.code {
				t.Errorf("tapdns %s: exit status %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, p.Stderr())
			}
			if !strings.Contains(p.Stderr(), tc.stderr) {
				t.Errorf("tapdns %s: stderr %q, want it to contain %q", strings.Join(tc.args, " "), p.Stderr(), tc.stderr)
			}
		})
	}
	if !ns.LinkExists(t, "notap0") && tunErr == nil {
		t.Error("the TUN device notap0 vanished after tapdns failed to attach to it")
	}
}
