package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckOriginsAndWarnings: ORIGIN=FILE in check and in the server's
// flags, the message for a file without an origin, and warnings with
// exit status 0.
func TestCheckOriginsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	noOrigin := filepath.Join(dir, "db.example")
	warn := filepath.Join(dir, "warn.zone")
	body := "$TTL 300\n@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.2\n"
	if err := os.WriteFile(noOrigin, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	if err := os.WriteFile(warn, []byte("\ufeff$ORIGIN w.test.\n"+body+"ns1 60 A 198.18.0.3\nt TXT \""+long+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"no origin", []string{noOrigin}, 1, nil, []string{"zone " + noOrigin + ": line 2: relative name @, but no origin is known: put $ORIGIN before this line or give the zone's origin",
			"(--zone ORIGIN=FILE, such as --zone example.com.=" + noOrigin + ")"}},
		{"origin given", []string{"--zone", "example.test.=" + noOrigin}, 0, []string{"zone " + noOrigin + ": origin example.test. serial 7 records 3\n"}, nil},
		{"origin given, positional", []string{"Example.TEST=" + noOrigin}, 0, []string{"origin example.test. serial 7"}, nil},
		{"bad origin", []string{"--zone", "a..b=" + noOrigin}, 2, nil, []string{`bad origin "a..b"`}},
		{"bad origin, positional", []string{"a..b=" + noOrigin}, 2, nil, []string{`bad origin "a..b"`}},
		{"warnings", []string{warn}, 0, []string{"zone " + warn + ": origin w.test. serial 7 records 5 warnings 3\n"}, []string{
			"zone " + warn + ": line 1: warning: byte order mark (U+FEFF) at the start of the file ignored",
			"zone " + warn + ": line 7: warning: TXT string of 300 octets split into strings of at most 255",
			"zone " + warn + ": line 6: warning: TTL 60 of this A record at ns1.w.test. differs from the TTL 300 of its RRset (line 5); the RRset is served with 300",
		}},
		{"every failure reported", []string{noOrigin, filepath.Join(dir, "missing.zone")}, 1, nil, []string{"line 2: relative name @", "missing.zone: no such file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runForTest(append([]string{"check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout %q lacks %q", stdout, w)
				}
			}
			for _, w := range tc.stderr {
				if n := strings.Count(stderr, w); n != 1 {
					t.Errorf("stderr %q has %q %d times, want once", stderr, w, n)
				}
			}
		})
	}

	// The server takes the same forms and reports the same way (it stops
	// at the zone, before the network stack starts).
	code, _, stderr := runForTest("--ip", "198.18.0.2", "--zone", noOrigin)
	if code != exitUsage || !strings.Contains(stderr, "--zone example.com.="+noOrigin) {
		t.Errorf("server with a file without origin: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runForTest("--ip", "198.18.0.2", "--zone", "a..b="+noOrigin)
	if code != exitUsage || !strings.Contains(stderr, `bad origin "a..b"`) {
		t.Errorf("server with a bad origin: exit %d, stderr %q", code, stderr)
	}
	if c, err := parseConfig([]string{"--ip", "198.18.0.2", "--zone", "example.test.=" + noOrigin}, os.Stderr); err != nil || len(c.zones) != 1 || c.zones[0] != "example.test.="+noOrigin {
		t.Errorf("parseConfig --zone ORIGIN=FILE: %+v, %v", c.zones, err)
	}
}
