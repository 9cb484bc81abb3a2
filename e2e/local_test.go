package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// TestLocalData runs tapdns with --override, --hosts and --block and checks
// the precedence the README documents, then a SIGHUP reload of the hosts
// file, and that a broken hosts file on reload keeps the data serving.
func TestLocalData(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	block := filepath.Join(dir, "block")
	write := func(path, text string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(hosts, "198.18.5.1 printer.lab printer\n198.18.5.2 www.example.test\n")
	write(block, "ads.lab\n0.0.0.0 tracker.lab\nmail.example.test\n")
	ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"),
		"--override", "nas.lab=198.18.5.9", "--override", "nas.lab=2001:2::9",
		"--hosts", hosts, "--block", block)

	tests := []struct {
		name, qtype, status string
		aa                  bool
		answer              []string
	}{
		{"nas.lab", "A", "NOERROR", true, []string{"nas.lab. 3600 IN A 198.18.5.9"}},
		{"nas.lab", "AAAA", "NOERROR", true, []string{"nas.lab. 3600 IN AAAA 2001:2::9"}},
		{"nas.lab", "MX", "NOERROR", true, nil},
		{"printer", "A", "NOERROR", true, []string{"printer. 3600 IN A 198.18.5.1"}},
		{"1.5.18.198.in-addr.arpa", "PTR", "NOERROR", true, []string{"1.5.18.198.in-addr.arpa. 3600 IN PTR printer.lab."}},
		// A hosts entry wins over the zone.
		{"www.example.test", "A", "NOERROR", true, []string{"www.example.test. 3600 IN A 198.18.5.2"}},
		// The zone wins over the block list.
		{"mail.example.test", "A", "NOERROR", true, []string{"mail.example.test. 3600 IN A 198.18.0.25"}},
		{"ads.lab", "A", "NXDOMAIN", true, nil},
		{"x.tracker.lab", "AAAA", "NXDOMAIN", true, nil},
		// Without recursion, other names are refused as before.
		{"other.lab", "A", "REFUSED", false, nil},
	}
	for _, tc := range tests {
		r := dig(t, ns, appliance4, tc.name, tc.qtype)
		if r.Status != tc.status || r.Flags["aa"] != tc.aa || !sameRecords(r.Answer, tc.answer) {
			t.Errorf("%s %s: %s aa=%v %q; want %s aa=%v %q", tc.name, tc.qtype, r.Status, r.Flags["aa"], r.Answer, tc.status, tc.aa, tc.answer)
		}
	}
	out, err := ns.Run(t, "dig", "+norec", "+time=2", "@"+appliance4, "ads.lab", "A")
	if err != nil || !strings.Contains(out, "EDE: 15 (Blocked)") {
		t.Errorf("blocked name: dig says %q, %v; want EDE 15 (Blocked)", out, err)
	}

	// A SIGHUP reloads the hosts file.
	write(hosts, "198.18.5.3 printer.lab printer\n")
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, ns, "printer", "A", "printer. 3600 IN A 198.18.5.3")
	if r := dig(t, ns, appliance4, "www.example.test", "A"); !sameRecords(r.Answer, []string{"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}) {
		t.Errorf("after the hosts entry went away, www.example.test: %q, want the zone's answer", r.Answer)
	}
	// A broken file keeps what is serving.
	write(hosts, "not-an-address printer\n")
	p.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Stderr(), "local data not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the broken hosts file:\n%s", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.Stderr(), "line 1") {
		t.Errorf("warning does not say which line: %s", p.Stderr())
	}
	if r := dig(t, ns, appliance4, "printer", "A"); !sameRecords(r.Answer, []string{"printer. 3600 IN A 198.18.5.3"}) {
		t.Errorf("after a failed reload printer: %q, want the old data", r.Answer)
	}
}

// waitAnswer polls until name answers with want (a reload is asynchronous).
func waitAnswer(t *testing.T, ns interface {
	Run(testing.TB, ...string) (string, error)
}, name, qtype, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := ns.Run(t, "dig", "+norec", "+time=1", "+tries=1", "+noall", "+answer", "@"+appliance4, name, qtype)
		if strings.Join(strings.Fields(out), " ") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %q, want %q after reload", name, qtype, out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLocalDataErrors: bad local data stops tapdns at startup with exit 2
// and a message naming the flag or the file and line.
func TestLocalDataErrors(t *testing.T) {
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	dir := t.TempDir()
	bad := filepath.Join(dir, "hosts")
	os.WriteFile(bad, []byte("# ok\n198.18.0.1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--override", "nas.lab"}, "--override \"nas.lab\": want NAME=ADDR"},
		{[]string{"--hosts", bad}, bad + ": line 2: want an address and at least one name"},
		{[]string{"--block", filepath.Join(dir, "missing")}, "--block: open"},
		{[]string{"--allow-recursion", "198.18.0.1/24"}, "host bits set"},
	} {
		p := ns.StartTapdns(t, bin, append([]string{"--ip", appliance4}, tc.args...)...)
		code, ok := p.Wait(10 * time.Second)
		if !ok || code != 2 || !strings.Contains(p.Stderr(), tc.want) {
			t.Errorf("%q: exit %d (exited %v), stderr %q; want 2 and %q", tc.args, code, ok, p.Stderr(), tc.want)
		}
	}
}
