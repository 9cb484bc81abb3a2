package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDNSSEC checks what `tapdns check` says about signed zones:
// the kind of signing on the summary line, and each warning with its file
// and line on standard error, the exit status staying 0.
func TestCheckDNSSEC(t *testing.T) {
	signed := filepath.Join("..", "..", "zone", "testdata", "signed")
	// An unsigned record added to a signed zone: the NSEC chain skips it
	// and it has no signature.
	data, err := os.ReadFile(filepath.Join(signed, "nsec.zone"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(data), "\n")
	extra := filepath.Join(t.TempDir(), "extra.zone")
	if err := os.WriteFile(extra, append(data, "extra.nsec. 3600 IN A 198.18.9.9\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		file           string
		stdout, stderr []string
	}{
		{"nsec", filepath.Join(signed, "nsec.zone"), []string{"origin nsec. ", " dnssec nsec\n"}, nil},
		{"nsec3", filepath.Join(signed, "nsec3.zone"), []string{"origin nsec3. ", " dnssec nsec3\n"}, nil},
		{"expired", filepath.Join(signed, "expired.zone"), []string{" dnssec nsec warnings 12\n"},
			[]string{"zone " + filepath.Join(signed, "expired.zone") + ": line 10: warning: RRSIG SOA at expired. expired on 2020-02-01 00:00:00 UTC\n"}},
		{"future", filepath.Join(signed, "future.zone"), []string{" warnings 12\n"},
			[]string{": line 10: warning: RRSIG SOA at future. is not valid before 2080-01-01 00:00:00 UTC\n"}},
		{"unsigned record", extra, []string{" dnssec nsec warnings 2\n"}, []string{
			fmt.Sprintf("zone %s: line %d: warning: broken NSEC chain: no NSEC record at extra.nsec.\n", extra, lines+1),
			fmt.Sprintf("zone %s: line %d: warning: A RRset at extra.nsec. has no RRSIG\n", extra, lines+1),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runForTest("check", tc.file)
			if code != 0 {
				t.Errorf("exit %d, want 0 (warnings do not fail a check); stderr %q", code, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout %q, want %q in it", stdout, w)
				}
			}
			for _, w := range tc.stderr {
				if n := strings.Count(stderr, w); n != 1 {
					t.Errorf("stderr %q has %q %d times, want once", stderr, w, n)
				}
			}
			if len(tc.stderr) == 0 && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
		})
	}
}
