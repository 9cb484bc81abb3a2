package netstack

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/netstack/xdp"
)

// xdpBurst is the most frames a reader takes from its RX ring at a time.
const xdpBurst = 64

// newXDPStack attaches to the interface cfg.XDP through AF_XDP and builds
// the stack on it (see New). cfg is normalized except for the MAC and MTU,
// which default to the interface's.
func newXDPStack(cfg Config, h Handler, logger *slog.Logger) (*Stack, error) {
	addrs := make([]netip.Addr, 0, 3)
	if cfg.Addr.IsValid() {
		addrs = append(addrs, cfg.Addr.Addr())
	}
	if cfg.Addr6.IsValid() {
		addrs = append(addrs, cfg.Addr6.Addr())
	}
	lk, err := xdp.Open(xdp.Config{Interface: cfg.XDP, Queues: cfg.Queues, Addrs: addrs}, logger)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	dev := &xdpDevice{link: lk}
	fail := func(err error) (*Stack, error) {
		dev.close()
		return nil, err
	}
	// The NIC filters unicast frames by its own address, and the host
	// shares it: our frames are told apart by IP address, not by MAC.
	if cfg.MAC != nil && !bytes.Equal(cfg.MAC, lk.MAC()) {
		return fail(fmt.Errorf("netstack: MAC %v: with XDP the interface's own address (%v) is used", cfg.MAC, lk.MAC()))
	}
	cfg.MAC = lk.MAC()
	switch {
	case cfg.MTU == 0:
		cfg.MTU = lk.MTU()
	case cfg.MTU > lk.MTU():
		return fail(fmt.Errorf("netstack: MTU %d is larger than %s's MTU %d", cfg.MTU, cfg.XDP, lk.MTU()))
	}
	if cfg, err = cfg.Normalize(); err != nil {
		return fail(err)
	}
	var mac [6]byte
	copy(mac[:], cfg.MAC)
	if err := lk.AddAddr(netip.AddrFrom16(linkLocal(mac))); err != nil {
		return fail(fmt.Errorf("netstack: %w", err))
	}
	s, err := newStack(cfg, h, logger, dev)
	if err != nil {
		return nil, err
	}
	zc := false
	for _, sk := range lk.Sockets() {
		zc = zc || sk.ZeroCopy()
	}
	logger.Info("netstack ready", "xdp", cfg.XDP, "mode", lk.Mode().String(), "zerocopy", zc,
		"queues", cfg.Queues, "rx_queues", lk.RXQueues(),
		"mac", cfg.MAC.String(), "mtu", cfg.MTU, "addr", cfg.Addr, "gateway", cfg.Gateway,
		"addr6", cfg.Addr6, "gateway6", cfg.Gateway6,
		"linklocal", netip.AddrFrom16(linkLocal(s.mac)),
		"port", cfg.Port, "fastpath", cfg.FastPath)
	return s, nil
}

// xdpDevice is an interface attached through AF_XDP: one xdpIO per RX
// queue's socket.
type xdpDevice struct {
	link *xdp.Link
	ios  []*xdpIO
}

func (d *xdpDevice) frameIOs() ([]frameIO, error) {
	out := make([]frameIO, 0, len(d.link.Sockets()))
	for _, sk := range d.link.Sockets() {
		x := newXDPIO(sk)
		d.ios = append(d.ios, x)
		out = append(out, x)
	}
	return out, nil
}

// addGroup has the XDP program send g's frames to us, not the kernel.
func (d *xdpDevice) addGroup(g netip.Addr) error { return d.link.AddAddr(g) }

// close stops writes (a late one gets errFDClosed instead of touching
// unmapped memory), then detaches the program and closes the sockets.
func (d *xdpDevice) close() error {
	for _, x := range d.ios {
		x.mu.Lock()
		x.closed = true
		x.mu.Unlock()
	}
	if err := d.link.Close(); err != nil {
		return fmt.Errorf("xdp %s: %w", d.link.Name(), err)
	}
	return nil
}

// xdpIO is one AF_XDP socket as a link queue. The socket's receive side
// belongs to the reader goroutine; its transmit side is shared with
// gVisor's senders under mu. For the fast path the reader takes transmit
// frames at the start of a burst, builds replies in them directly, and
// queues them all and kicks once at the end of the burst.
type xdpIO struct {
	sock *xdp.Socket

	// Owned by the reader goroutine.
	q        *queue
	descs    []unix.XDPDesc
	readFn   func(uintptr) bool
	draining bool
	spare    [][]byte  // transmit frames taken for this burst's replies
	out      []txReply // replies to send at the end of the burst
	txbuf    []byte    // where a reply is built when no spare frame is left

	mu     sync.Mutex // the socket's transmit side
	closed bool
}

type txReply struct {
	buf []byte
	n   int
}

var errNoTXFrame = errors.New("no free AF_XDP transmit frame")

func newXDPIO(sk *xdp.Socket) *xdpIO {
	x := &xdpIO{
		sock:  sk,
		descs: make([]unix.XDPDesc, xdpBurst),
		spare: make([][]byte, 0, xdpBurst),
		out:   make([]txReply, 0, xdpBurst),
		txbuf: make([]byte, sk.FrameCapacity()),
	}
	x.readFn = x.drain
	return x
}

// xdpCheckEvery is how often an idle reader checks its socket for an
// error: when the interface goes away, the kernel sets one but does not
// wake the poller.
const xdpCheckEvery = time.Second

func (x *xdpIO) run(q *queue) error {
	x.q = q
	for {
		// stop sets stopping, then a deadline in the past: checking after
		// our own deadline is set means neither can be lost.
		_ = x.sock.SetReadDeadline(time.Now().Add(xdpCheckEvery))
		if q.stopping.Load() {
			return nil
		}
		err := x.sock.RawConn().Read(x.readFn)
		if q.stopping.Load() {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if err := x.sock.Err(); err != nil {
			return err
		}
	}
}

// drain is the RawConn read callback: it handles bursts of frames until
// the RX ring is empty (false: wait in the poller) or stop was requested.
func (x *xdpIO) drain(uintptr) bool {
	x.draining = true
	defer func() { x.draining = false }()
	q := x.q
	for !q.stopping.Load() {
		n := x.sock.Receive(x.descs)
		if n == 0 {
			return false
		}
		x.mu.Lock()
		for len(x.spare) < n {
			b := x.sock.TakeTX()
			if b == nil {
				break
			}
			x.spare = append(x.spare, b)
		}
		x.mu.Unlock()
		for _, d := range x.descs[:n] {
			if f := x.sock.Frame(d); f != nil {
				q.capture.frame(f, false)
				q.onFrame(f) // gVisor copies what it keeps
			}
			x.sock.Recycle(d)
		}
		x.sock.Refill()
		x.endBurst()
	}
	return true
}

// endBurst queues the burst's replies, gives back the unused frames and
// kicks the TX ring once.
func (x *xdpIO) endBurst() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range x.out {
		x.sock.SendTX(r.buf, r.n)
	}
	x.out = x.out[:0]
	for _, b := range x.spare {
		x.sock.PutTX(b)
	}
	x.spare = x.spare[:0]
	if x.closed {
		return
	}
	_ = x.sock.Flush() // a failed kick is counted; the frames go with the next
}

func (x *xdpIO) stop() { _ = x.sock.SetReadDeadline(time.Unix(1, 0)) }

// txBuf returns a spare transmit frame, or the private buffer when the
// burst took none (all in flight, or not inside a burst).
func (x *xdpIO) txBuf() []byte {
	if x.draining && len(x.spare) > 0 {
		return x.spare[len(x.spare)-1]
	}
	return x.txbuf
}

func (x *xdpIO) sendFast(frame []byte) error {
	if x.draining && len(x.spare) > 0 {
		top := x.spare[len(x.spare)-1]
		if len(frame) > 0 && unsafe.SliceData(frame) == unsafe.SliceData(top) {
			x.spare = x.spare[:len(x.spare)-1]
			x.out = append(x.out, txReply{top, len(frame)})
			return nil
		}
	}
	return x.write(frame)
}

// write copies frame into a transmit frame and sends it at once (one kick
// per frame: gVisor's frames are not the hot path).
func (x *xdpIO) write(frame []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return errFDClosed
	}
	b := x.sock.TakeTX()
	if b == nil {
		return errNoTXFrame
	}
	if len(frame) > len(b) {
		x.sock.PutTX(b)
		return fmt.Errorf("frame of %d bytes larger than an AF_XDP frame", len(frame))
	}
	x.sock.SendTX(b, copy(b, frame))
	return x.sock.Flush()
}

// XDPStats is a snapshot of an AF_XDP link's counters, all queues
// together.
type XDPStats struct {
	// Enabled is false on a TAP; the rest is then zero.
	Enabled bool
	// The kernel's (XDP_STATISTICS): received frames it dropped because
	// the RX ring was full, times it found the fill ring empty (a frame
	// dropped each), frames dropped otherwise (larger than a UMEM frame),
	// and descriptors it rejected.
	RXRingFull, RXFillRingEmpty, RXDropped, RXInvalidDescs, TXInvalidDescs uint64
	// Ours: system calls that kicked transmission (one per burst), failed
	// ones, frames not sent because every transmit frame was in flight,
	// and system calls that woke the receive side (zero-copy drivers).
	TXKicks, TXKickErrors, TXNoFrame, RXWakeups uint64
}

// XDPStats returns a snapshot of the AF_XDP link's counters.
func (s *Stack) XDPStats() XDPStats {
	d, ok := s.dev.(*xdpDevice)
	if !ok {
		return XDPStats{}
	}
	st := XDPStats{Enabled: true}
	for _, sk := range d.link.Sockets() {
		k, o := sk.KernelStats(), sk.Stats()
		st.RXRingFull += k.RXRingFull
		st.RXFillRingEmpty += k.RXFillRingEmpty
		st.RXDropped += k.RXDropped
		st.RXInvalidDescs += k.RXInvalidDescs + o.RXInvalid
		st.TXInvalidDescs += k.TXInvalidDescs
		st.TXKicks += o.TXKicks
		st.TXKickErrors += o.TXKickErrs
		st.TXNoFrame += o.TXNoFrame
		st.RXWakeups += o.RXWakeups
	}
	return st
}
