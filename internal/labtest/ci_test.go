package labtest

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of
// stopping the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestSkipOrFailf(t *testing.T) {
	for _, tc := range []struct {
		ci         string
		inCI       bool
		fatal, skp string
	}{
		{"", false, "", "skipping: no x: 1"},
		{"0", false, "", "skipping: no x: 1"},
		{"false", false, "", "skipping: no x: 1"},
		{"1", true, "CI is set, so this prerequisite is required: no x: 1", ""},
		{"true", true, "CI is set, so this prerequisite is required: no x: 1", ""},
	} {
		t.Setenv("CI", tc.ci)
		if got := InCI(); got != tc.inCI {
			t.Errorf("CI=%q: InCI() = %v, want %v", tc.ci, got, tc.inCI)
		}
		r := &recorder{TB: t}
		SkipOrFailf(r, "no x: %d", 1)
		if r.fatal != tc.fatal || r.skip != tc.skp {
			t.Errorf("CI=%q: SkipOrFailf: fatal %q skip %q, want %q and %q", tc.ci, r.fatal, r.skip, tc.fatal, tc.skp)
		}
	}
}

func TestRequireToolsInCI(t *testing.T) {
	t.Setenv("CI", "1")
	r := &recorder{TB: t}
	RequireTools(r, "sh", "tapdns-no-such-tool")
	if r.fatal == "" || r.skip != "" {
		t.Errorf("RequireTools with a missing tool under CI=1: fatal %q skip %q, want a failure", r.fatal, r.skip)
	}
	r = &recorder{TB: t}
	RequireTools(r, "sh")
	if r.fatal != "" || r.skip != "" {
		t.Errorf("RequireTools(sh): fatal %q skip %q, want neither", r.fatal, r.skip)
	}
}
