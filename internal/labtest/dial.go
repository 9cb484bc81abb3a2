package labtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dial connects to addr (a literal IP and port, e.g. "198.18.0.2:53" or
// "[2001:2::2]:53") from inside the namespace. network is as for net.Dial
// ("udp", "tcp", "udp6", ...). A socket keeps the namespace it was created
// in, so the connection may be used from any goroutine afterwards.
func (ns *NS) Dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.Dial(network, addr)
		return err
	})
	return c, err
}

// ListenPacket opens a packet socket (net.ListenPacket) inside the namespace.
func (ns *NS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := ns.Do(func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// Do runs f on a dedicated OS thread switched into the namespace and returns
// its error. Sockets f creates belong to the namespace. f must not start
// goroutines that expect to run in the namespace (they run on other
// threads), and must not look up names: pass literal addresses.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		errc <- ns.do(f)
	}()
	return <-errc
}

func (ns *NS) do(f func() error) error {
	runtime.LockOSThread()
	// The thread is returned to the runtime only if it is back in its
	// original namespace; otherwise the goroutine exits with the thread
	// still locked and the runtime destroys it.
	orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/var/run/netns", ns.Name))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", ns.Name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns.Name, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("restore netns after %s: %w", ns.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
