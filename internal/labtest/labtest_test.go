package labtest

import (
	"errors"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNSIsolatedAndCleaned(t *testing.T) {
	RequireRoot(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		ns := NewNS(t, "self")
		name = ns.Name
		ns.AddTAP(t, "tap0", "198.18.0.1/24", "2001:2::1/64")
		if !ns.LinkExists(t, "tap0") {
			t.Fatal("tap0 missing after AddTAP")
		}
		if ns.LinkExists(t, "tap-nonexistent") {
			t.Fatal("LinkExists reports a device that does not exist")
		}
		out := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "tap0")
		for _, want := range []string{"198.18.0.1/24", "2001:2::1/64"} {
			if !strings.Contains(out, want) {
				t.Errorf("ip addr show tap0 = %q, want it to contain %q", out, want)
			}
		}
		if _, err := ns.Run(t, "false"); err == nil {
			t.Error("Run(false) returned no error")
		}

		// A TCP listener inside the namespace is reachable from inside and
		// not from the root namespace.
		var ln net.Listener
		if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		c, err := ns.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("Dial inside the namespace: %v", err)
		}
		c.Close()
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Errorf("listener inside %s reachable from the root namespace", ns.Name)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Logf("dial from root namespace: %v (want connection refused)", err)
		}

		// A long-running process is stopped by cleanup.
		ns.Start(t, "sleep", "60")
	})
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), name) {
		t.Errorf("namespace %s still exists after cleanup", name)
	}
}

func TestWaitReady(t *testing.T) {
	ns := NewNS(t, "ready")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	pc, err := ns.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 12 {
				buf[2] |= 0x80 // QR
				pc.WriteTo(buf[:n], from)
			}
		}
	}()
	p := ns.Start(t, "sleep", "60")
	p.WaitReady(t, pc.LocalAddr().String())
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Wait(2 * time.Second); !ok {
		t.Fatal("sleep did not exit on SIGTERM")
	}
}

func TestServerAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"198.18.0.2", "198.18.0.2:53"},
		{"198.18.0.2:5353", "198.18.0.2:5353"},
		{"2001:2::2", "[2001:2::2]:53"},
		{"[2001:2::2]:53", "[2001:2::2]:53"},
		{"example.com", ""},
	} {
		got, err := ServerAddr(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ServerAddr(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ServerAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
