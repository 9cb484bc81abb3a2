// Package labtest provides helpers for end-to-end tests that run the real
// tapdns binary (or a peer server) inside a network namespace created by the
// test itself.
//
// Everything here happens inside namespaces made by NewNS: commands run via
// `ip netns exec`, devices are created with `ip -n`, and Go sockets are opened
// on a thread switched into the namespace. Nothing touches the root
// namespace. Each NS is deleted, and every process started in it killed by
// PID, by the test's Cleanup, so a failing or panicking test leaves nothing
// behind.
//
// The helpers need root and the ip(8) tool; RequireRoot skips the test
// otherwise, or fails it in CI (see InCI): there every prerequisite is
// installed, so a missing one is a broken setup, not a reason to skip.
package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
)

// cmdTimeout bounds every command run by NS.Run, so that a hung tool fails
// the test instead of hanging it.
const cmdTimeout = 30 * time.Second

// InCI reports whether the tests run in CI: the environment variable CI
// is set to anything but "", "0" or "false" (.ci/run exports CI=1; hosted
// CI services set CI=true).
func InCI() bool {
	switch os.Getenv("CI") {
	case "", "0", "false":
		return false
	}
	return true
}

// SkipOrFailf skips the test with the formatted reason, or, in CI (InCI),
// fails it with that reason: CI installs every prerequisite, so a missing
// one means the tests did not run, which must not pass unnoticed. Like
// t.Skipf and t.Fatalf it stops the test's goroutine.
func SkipOrFailf(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI is set, so this prerequisite is required: "+format, args...)
		return
	}
	t.Skipf("skipping: "+format, args...)
}

// RequireRoot skips the test (fails it in CI), with the reason, unless the
// process runs as root and ip(8) is installed.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFailf(t, "needs root to create network namespaces and TAP devices (run with sudo)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		SkipOrFailf(t, "ip(8) not found; install iproute2 (scripts/setup.sh)")
	}
}

// RequireTools skips the test (fails it in CI), naming what is missing,
// unless every named program is on PATH.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		SkipOrFailf(t, "%s not found on PATH (scripts/setup.sh installs them)", strings.Join(missing, ", "))
	}
}

// nsCounter makes namespace names unique within one test binary; the PID
// makes them unique between binaries running at the same time.
var nsCounter atomic.Uint64

// NS is a network namespace owned by one test.
type NS struct {
	// Name is the namespace name, as shown by `ip netns list`.
	Name string

	mu    sync.Mutex
	cmds  []*exec.Cmd // every command built by Cmd, to kill on cleanup
	taps  []string    // devices made by AddTAP, deleted before the namespace
	procs []*Proc
}

// NewNS creates a namespace named tapdns-<prefix>-<pid>-<n>. The test's
// Cleanup stops every process started in it (SIGTERM, then SIGKILL, by PID),
// deletes the devices made by AddTAP and deletes the namespace.
func NewNS(t testing.TB, prefix string) *NS {
	t.Helper()
	RequireRoot(t)
	name := fmt.Sprintf("tapdns-%s-%d-%d", prefix, os.Getpid(), nsCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name}
	t.Cleanup(func() { ns.cleanup(t) })
	return ns
}

func (ns *NS) cleanup(t testing.TB) {
	ns.mu.Lock()
	procs, cmds, taps := ns.procs, ns.cmds, ns.taps
	ns.mu.Unlock()
	for _, p := range procs {
		p.stop(t)
	}
	for _, c := range cmds {
		// Kill goes through a pidfd, so a command that has already been
		// waited for is not confused with a new process of the same PID.
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	// Anything else still in the namespace (a child of a killed command) was
	// started by this test too.
	if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, tap := range taps {
		// Best effort: the device is gone already if its owner removed it.
		_ = exec.Command("ip", "-n", ns.Name, "link", "del", tap).Run()
	}
	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
	}
}

// Cmd returns a command that runs args inside the namespace via
// `ip netns exec` (which execs args[0], so the command's PID is the
// program's). It is killed by PID on cleanup if still running.
func (ns *NS) Cmd(args ...string) *exec.Cmd {
	return ns.cmdContext(context.Background(), args...)
}

func (ns *NS) cmdContext(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	ns.mu.Lock()
	ns.cmds = append(ns.cmds, c)
	ns.mu.Unlock()
	return c
}

// Run runs args inside the namespace, bounded to 30 s, and returns its
// standard output. A non-zero exit gives an error that includes the command
// and its standard error.
func (ns *NS) Run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c := ns.cmdContext(ctx, args...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// MustRun is Run that fails the test on error.
func (ns *NS) MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.Run(t, args...)
	if err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
	return out
}

// ip runs `ip -n NS args...`, failing the test on error.
func (ns *NS) ip(t testing.TB, args ...string) {
	t.Helper()
	full := append([]string{"-n", ns.Name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// AddTAP creates a persistent TAP device inside the namespace, gives its
// kernel side the addresses kernelV4 (e.g. "198.18.0.1/24") and kernelV6
// (e.g. "2001:2::1/64", added with nodad so it is usable at once; either may
// be empty for none), and brings lo and the device up. The device has no
// carrier until a process attaches to it. Cleanup deletes it.
func (ns *NS) AddTAP(t testing.TB, name, kernelV4, kernelV6 string) {
	t.Helper()
	ns.ip(t, "tuntap", "add", "dev", name, "mode", "tap")
	ns.mu.Lock()
	ns.taps = append(ns.taps, name)
	ns.mu.Unlock()
	if kernelV4 != "" {
		ns.ip(t, "addr", "add", kernelV4, "dev", name)
	}
	if kernelV6 != "" {
		ns.ip(t, "addr", "add", kernelV6, "dev", name, "nodad")
	}
	ns.ip(t, "link", "set", "lo", "up")
	ns.ip(t, "link", "set", name, "up")
}

// LinkExists reports whether a network device with this name exists in the
// namespace.
func (ns *NS) LinkExists(t testing.TB, name string) bool {
	t.Helper()
	err := exec.Command("ip", "-n", ns.Name, "link", "show", "dev", name).Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("ip -n %s link show: %v", ns.Name, err)
	}
	return err == nil
}

// Start starts args inside the namespace with standard output and error
// captured. Cleanup stops it (SIGTERM, then SIGKILL after 2 s), fails the
// test if it reported a data race and, if the test failed, logs what it
// wrote. Unless GORACE is set, a race-enabled binary runs with
// GORACE="atexit_sleep_ms=0 halt_on_error=1".
func (ns *NS) Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	p := &Proc{ns: ns, name: filepath.Base(args[0]), done: make(chan struct{})}
	p.cmd = ns.Cmd(args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if os.Getenv("GORACE") == "" {
		// For binaries built with -race (see BuildTapdns): stop at the first
		// race rather than at exit, and do not sleep a second before
		// exiting, which would break shutdown-time checks.
		p.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", strings.Join(args, " "), ns.Name, err)
	}
	go func() {
		// The Proc owns this goroutine; stop and Wait wait for done.
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	ns.mu.Lock()
	ns.procs = append(ns.procs, p)
	ns.mu.Unlock()
	return p
}

// StartTapdns starts the tapdns binary bin (see BuildTapdns) with args
// inside the namespace. It does not wait for it to be ready: see WaitReady.
func (ns *NS) StartTapdns(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return ns.Start(t, append([]string{bin}, args...)...)
}

// Proc is a process started in a namespace by NS.Start.
type Proc struct {
	ns             *NS
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{} // closed when the process has exited
	err            error         // cmd.Wait's result, set before done closes
}

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Stdout returns what the process has written to standard output so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr returns what the process has written to standard error so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done returns a channel closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 if it was killed by a signal), or ok false if it is still
// running.
func (p *Proc) Wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

func (p *Proc) stop(t testing.TB) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			t.Errorf("%s (pid %d) ignored SIGTERM for 2 s; killing it", p.name, p.PID())
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if strings.Contains(p.Stderr(), "WARNING: DATA RACE") {
		t.Errorf("%s (pid %d) reported a data race", p.name, p.PID())
	}
	if t.Failed() {
		t.Logf("%s (pid %d) exited: %v\nstdout:\n%s\nstderr:\n%s", p.name, p.PID(), p.err, p.Stdout(), p.Stderr())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
