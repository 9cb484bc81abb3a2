package xdp

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	gxdp "gvisor.dev/gvisor/pkg/xdp"

	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/internal/labtest"
)

// BenchmarkReflectCPU measures the CPU time one reflector thread spends
// per frame on this package's rings ("own") and on gVisor's pkg/xdp
// ("gvisor"), under the same load: kxdpgun on the generator's side of the
// lab veth, native XDP, copy mode. Both wait in Go's poller, take the
// frames the RX ring holds (at most 64 on ours), copy each into a transmit frame, rewrite it and
// kick once per burst. ns/op is wall time per reflected (sent) frame;
// cpu-ns/frame is the reflector thread's own CPU time (user and system,
// which includes softirq work the kernel does on its behalf) per sent
// frame. Frames received but not sent (TX ring full) do not count.
//
//	go test -run '^$' -bench ReflectCPU -benchtime 200000x ./netstack/xdp
func BenchmarkReflectCPU(b *testing.B) {
	for _, impl := range []string{"own", "gvisor"} {
		b.Run(impl, func(b *testing.B) { benchReflect(b, impl) })
	}
}

func benchReflect(b *testing.B, impl string) {
	labtest.RequireTools(b, "kxdpgun")
	lb := newLab(b, 1)
	lk, err := lb.open(b, Config{Mode: ModeNative, noSockets: impl == "gvisor"})
	if err != nil {
		b.Fatal(err)
	}
	var loop func(stop func() bool) (frames int, err error)
	switch impl {
	case "own":
		loop = ownLoop(lk.Sockets()[0], [6]byte(lk.MAC()))
	case "gvisor":
		loop, err = gvisorLoop(lb, lk)
		if err != nil {
			b.Fatal(err)
		}
	}
	// kxdpgun needs the MAC up front; it sends to port 53.
	qf, err := os.CreateTemp(b.TempDir(), "q")
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintln(qf, "example.com. A")
	qf.Close()
	gen := lb.gen.Start(b, "kxdpgun", "-t", "20", "-Q", "3000000", "-i", qf.Name(), "-I", "vg0",
		"-l", genAddr4.String(), "-R", lk.MAC().String(), ourAddr4.String())
	defer gen.Signal(os.Interrupt)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	deadline := time.Now().Add(15 * time.Second)
	n0 := 0
	// Warm up until traffic flows.
	for n0 < 1000 && time.Now().Before(deadline) {
		n, err := loop(func() bool { return true })
		if err != nil {
			b.Fatal(err)
		}
		n0 += n
	}
	var r0, r1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &r0)
	b.ResetTimer()
	done := 0
	for done < b.N && time.Now().Before(deadline) {
		n, err := loop(func() bool { return false })
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.StopTimer()
	unix.Getrusage(unix.RUSAGE_THREAD, &r1)
	if done < b.N {
		b.Fatalf("reflected %d of %d frames before the deadline", done, b.N)
	}
	cpu := time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(done), "cpu-ns/frame")
}

// ownLoop returns one burst of this package's reflector: it waits for
// frames (unless once), reflects every frame there and returns how many.
func ownLoop(s *Socket, mac [6]byte) func(func() bool) (int, error) {
	descs := make([]unix.XDPDesc, 64)
	var bad int
	return func(once func() bool) (int, error) {
		total := 0
		err := s.RawConn().Read(func(uintptr) bool {
			n := s.Receive(descs)
			if n == 0 {
				return once()
			}
			for _, d := range descs[:n] {
				if f, tx := s.Frame(d), s.TakeTX(); f != nil && tx != nil {
					m := reflectFrame(tx[:copy(tx, f)], mac, ourAddr4.As4(), &bad)
					if m > 0 {
						total++
					}
					s.SendTX(tx, m)
				}
				s.Recycle(d)
			}
			s.Refill()
			s.Flush()
			return true
		})
		return total, err
	}
}

// gvisorLoop binds a socket made by gVisor's pkg/xdp to queue 0 and
// returns the same burst loop on its rings.
func gvisorLoop(lb *lab, lk *Link) (func(func() bool) (int, error), error) {
	var cb *gxdp.ControlBlock
	err := lb.srv.Do(func() error {
		ifc, err := net.InterfaceByName(lb.dev)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		cb, err = gxdp.NewFromSocket(fd, uint32(ifc.Index), 0, gxdp.Opts{
			NFrames: 2048, FrameSize: 4096, NDescriptors: 1024, Bind: true, UseNeedWakeup: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gVisor xdp socket: %w", err)
	}
	fd := int(cb.UMEM.SockFD())
	if err := lk.prog.setSocket(0, fd); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "gvisor-xsk")
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	cb.UMEM.Lock()
	cb.Fill.FillAll(&cb.UMEM)
	cb.UMEM.Unlock()
	mac := [6]byte(lk.MAC())
	var bad int
	return func(once func() bool) (int, error) {
		total := 0
		err := rc.Read(func(uintptr) bool {
			n, idx := cb.RX.Peek()
			if n == 0 {
				return once()
			}
			cb.UMEM.Lock()
			nt, tidx := cb.TX.Reserve(&cb.UMEM, n)
			sent, reflected := uint32(0), 0
			for i := uint32(0); i < n; i++ {
				d := cb.RX.Get(idx + i)
				if i < nt {
					addr := cb.UMEM.AllocFrame()
					buf := cb.UMEM.Get(unix.XDPDesc{Addr: addr, Len: 4096})
					if m := reflectFrame(buf[:copy(buf, cb.UMEM.Get(d))], mac, ourAddr4.As4(), &bad); m > 0 {
						cb.TX.Set(tidx+sent, unix.XDPDesc{Addr: addr, Len: uint32(m)})
						sent++
						reflected++
					} else {
						cb.UMEM.FreeFrame(addr)
					}
				}
				cb.UMEM.FreeFrame(d.Addr)
			}
			// Reserve took nt slots; unused ones carry zero-length frames
			// the kernel rejects, so send exactly what was reserved.
			for ; sent < nt; sent++ {
				cb.TX.Set(tidx+sent, unix.XDPDesc{Addr: cb.UMEM.AllocFrame(), Len: 0})
			}
			cb.RX.Release(n)
			cb.TX.Notify()
			cb.Completion.FreeAll(&cb.UMEM)
			cb.Fill.FillAll(&cb.UMEM)
			cb.UMEM.Unlock()
			total = reflected
			return true
		})
		return total, err
	}, nil
}
