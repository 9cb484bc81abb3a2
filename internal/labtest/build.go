package labtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// build holds the result of the one build of cmd/tapdns per test binary.
var build struct {
	once sync.Once
	path string
	err  error
}

// BuildTapdns builds ./cmd/tapdns of the module containing the current
// directory, once per test binary (with -race when the test binary has it),
// and returns the binary's path. A build failure fails every caller with the
// compiler's output. The binary lives in a temporary directory that
// RemoveBuild deletes; call it from the package's TestMain after m.Run.
func BuildTapdns(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = buildTapdns() })
	if build.err != nil {
		t.Fatalf("build tapdns: %v", build.err)
	}
	return build.path
}

func buildTapdns() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || root == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("not inside a Go module (go env GOMOD: %q)", gomod)
	}
	dir, err := os.MkdirTemp("", "tapdns-labtest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tapdns")
	// No VCS stamping: as root in a checkout owned by someone else, git
	// refuses to run ("dubious ownership") and the build would fail.
	args := []string{"build", "-buildvcs=false", "-o", bin}
	if Race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/tapdns")
	c := exec.Command("go", args...)
	c.Dir = root
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return bin, nil
}

// RemoveBuild deletes the binary BuildTapdns made, if any. Packages that
// use BuildTapdns call it from TestMain once every test has finished:
//
//	func TestMain(m *testing.M) { m.Run(); labtest.RemoveBuild() }
//
// (since Go 1.15 the test binary exits with m.Run's code when TestMain
// returns).
func RemoveBuild() {
	if build.path != "" {
		_ = os.RemoveAll(filepath.Dir(build.path))
	}
}
