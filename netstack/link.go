package netstack

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// frameBufSize is the size of every frame buffer. A TAP read truncates a
// frame that does not fit, so receive buffers take the largest frame the
// kernel could hand us whatever the device's MTU, not our IP MTU.
const frameBufSize = 1 << 16

// dropReason says why the link layer discarded a received frame.
type dropReason uint8

const (
	keep           dropReason = iota
	dropRunt                  // shorter than an Ethernet header
	dropForeignMAC            // unicast to another host (bridges flood these)
	dropEtherType             // not IPv4, IPv6 or ARP (VLAN tags included)
)

// classify decides whether frame goes up the stack. It returns the frame's
// EtherType for kept frames. Frames are accepted when addressed to mac, to
// broadcast or to any multicast group: gVisor filters multicast itself.
func classify(frame []byte, mac *[6]byte) (uint16, dropReason) {
	if len(frame) < header.EthernetMinimumSize {
		return 0, dropRunt
	}
	// The group bit covers broadcast and multicast (RFC 9542 2.1).
	if frame[0]&1 == 0 && [6]byte(frame[0:6]) != *mac {
		return 0, dropForeignMAC
	}
	et := uint16(frame[12])<<8 | uint16(frame[13])
	switch et {
	case uint16(header.IPv4ProtocolNumber), uint16(header.IPv6ProtocolNumber), uint16(header.ARPProtocolNumber):
		return et, keep
	}
	return 0, dropEtherType
}

// queue is one queue of the link: a TAP fd or an AF_XDP socket (its
// frameIO) with its counters. Its read side is owned by exactly one
// reader goroutine; its write side is shared by that reader (fast-path
// answers, through sendFast) and by gVisor's senders (through
// writePacket under wmu).
type queue struct {
	idx int
	io  frameIO
	ctr linkCounters

	// Owned by the reader goroutine.
	stopping atomic.Bool
	onFrame  func(frame []byte) // handles one received frame; set before run

	wmu  sync.Mutex
	wbuf []byte

	capture captureSlot // see capture.go; empty unless SetCapture
}

// frameIO is the device side of one queue: it reads frames and writes
// them. The TAP's is tapIO (below); AF_XDP's is xdpIO (xdplink.go).
type frameIO interface {
	// run reads frames and hands each to q.onFrame, after q.capture,
	// until q.stopping is set and stop was called (its result is then
	// ignored) or the device fails (the error; io.EOF for an orderly end).
	run(q *queue) error
	// stop makes a pending or future run return, without closing the
	// device, so that writers may still use it until teardown.
	stop()
	// txBuf returns the buffer the next fast-path reply is built in. It is
	// called only from q.onFrame (or, in tests, the goroutine calling
	// Stack.receive) and valid until sendFast.
	txBuf() []byte
	// sendFast sends frame, a prefix of the last txBuf, from the same
	// goroutine. It may be sent at the end of the current burst.
	sendFast(frame []byte) error
	// write sends one frame from any goroutine; frame may be reused on
	// return. It returns errFDClosed once the device is closed.
	write(frame []byte) error
}

// device is what a Stack's link runs on: a TAP (tap_linux.go) or an
// interface attached through AF_XDP (xdplink.go).
type device interface {
	// frameIOs returns one frameIO per queue; called once.
	frameIOs() ([]frameIO, error)
	// addGroup makes the device deliver the frames of multicast group g
	// (a TAP delivers every frame anyway).
	addGroup(g netip.Addr) error
	// close releases the device after the stack is done with it.
	close() error
}

func newQueue(idx int, io frameIO) *queue {
	return &queue{idx: idx, io: io, wbuf: make([]byte, frameBufSize)}
}

// run reads and handles frames until stop is requested (errStopped) or the
// device fails (its error, or io.EOF).
func (q *queue) run() error {
	err := q.io.run(q)
	if q.stopping.Load() {
		return errStopped
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// stop makes a pending or future run return errStopped.
func (q *queue) stop() {
	q.stopping.Store(true)
	q.io.stop()
}

// sendFast sends a fast-path reply built in q.io.txBuf and counts it.
func (q *queue) sendFast(frame []byte) error {
	// Captured before the write, as the kernel's taps see a frame before
	// the driver: so it is in the capture before the peer can react to it.
	q.capture.frame(frame, true)
	if err := q.io.sendFast(frame); err != nil {
		q.ctr.writeErrors.Add(1)
		return err
	}
	q.ctr.framesOut.Add(1)
	q.ctr.bytesOut.Add(uint64(len(frame)))
	return nil
}

// tapIO is a TAP queue's fd. Its reads and fast-path writes happen inside
// one RawConn read callback per burst (drain); gVisor's writes go through
// the poller (stackW).
type tapIO struct {
	f  *os.File
	rc syscall.RawConn

	// Owned by the reader goroutine.
	q        *queue
	rbuf     []byte
	rerr     error
	readFn   func(fd uintptr) bool // drain, bound once to avoid a closure per read
	fd       int                   // the fd, valid while draining
	draining bool                  // drain is running on this goroutine
	txbuf    []byte
	fastW    fdWriter

	stackW fdWriter // used under the queue's wmu
}

func newTapIO(f *os.File) (*tapIO, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	t := &tapIO{
		f:     f,
		rc:    rc,
		rbuf:  make([]byte, frameBufSize),
		txbuf: make([]byte, frameBufSize),
	}
	t.readFn = t.drain
	t.fastW.init(rc)
	t.stackW.init(rc)
	return t, nil
}

// drain is the RawConn read callback. It reads frames and hands each to
// onFrame until the fd has none left (false: the poller waits for
// readability and calls it again), a read fails, or stop was requested
// (true: rc.Read returns). Handling a burst of frames inside one callback
// pays the poller's per-call locking once per burst instead of once per
// frame (and once more per fast-path reply, which is written on the same
// fd directly), like a NIC driver's poll loop.
func (t *tapIO) drain(fd uintptr) bool {
	t.fd, t.draining = int(fd), true
	defer func() { t.draining = false }()
	q := t.q
	for !q.stopping.Load() {
		n, err := unix.Read(int(fd), t.rbuf)
		switch err {
		case nil:
			if n <= 0 {
				// A TAP read never returns 0 bytes; a socket at EOF does.
				// Either way nothing more will come, and looping would spin.
				t.rerr = io.EOF
				return true
			}
			frame := t.rbuf[:n]
			q.capture.frame(frame, false)
			q.onFrame(frame)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		t.rerr = err
		return true
	}
	return true
}

func (t *tapIO) run(q *queue) error {
	t.q, t.rerr = q, nil
	if err := t.rc.Read(t.readFn); err != nil {
		return err
	}
	return t.rerr
}

// stop sets a read deadline in the past: the pending wait ends at once.
func (t *tapIO) stop() { _ = t.f.SetReadDeadline(time.Unix(1, 0)) }

func (t *tapIO) txBuf() []byte { return t.txbuf }

// sendFast writes a fast-path reply. Inside drain it writes on the fd the
// callback holds, without a second trip through the poller; elsewhere (in
// tests that call the receive path directly) through fastW.
func (t *tapIO) sendFast(frame []byte) error {
	if !t.draining {
		return t.fastW.write(frame)
	}
	for {
		_, err := unix.Write(t.fd, frame)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

func (t *tapIO) write(frame []byte) error { return t.stackW.write(frame) }

var errStopped = errors.New("reader stopped")

// fdWriter writes whole frames through a RawConn. The callback is bound once
// so a write does not allocate. A writer is used by one goroutine at a time.
type fdWriter struct {
	rc  syscall.RawConn
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func (w *fdWriter) init(rc syscall.RawConn) {
	w.rc = rc
	w.fn = w.do
}

// do never waits for writability: a TAP write does not block in practice,
// and a frame that cannot be written now is dropped like on a busy NIC
// rather than stalling gVisor or the reader.
func (w *fdWriter) do(fd uintptr) bool {
	for {
		n, err := unix.Write(int(fd), w.buf)
		if err == unix.EINTR {
			continue
		}
		w.n, w.err = n, err
		return true
	}
}

// write writes one frame. It returns errFDClosed when the file is closed
// (or otherwise unusable through Go's poller) and the write syscall's error
// otherwise.
func (w *fdWriter) write(b []byte) error {
	w.buf = b
	err := w.rc.Write(w.fn)
	w.buf = nil
	if err != nil {
		return errFDClosed
	}
	return w.err
}

var errFDClosed = errors.New("link closed")

// linkEndpoint is a gVisor stack.LinkEndpoint over the link's queues. Receiving
// is not done here but by Stack's reader goroutines (one per queue), which
// call deliver; the endpoint owns no goroutines.
type linkEndpoint struct {
	mac    [6]byte
	addr   tcpip.LinkAddress // mac as gVisor's type, converted once
	mtu    atomic.Uint32     // IP MTU
	queues []*queue

	disp    atomic.Pointer[dispatcherRef]
	mu      sync.Mutex
	onClose func()
}

type dispatcherRef struct{ d stack.NetworkDispatcher }

var _ stack.LinkEndpoint = (*linkEndpoint)(nil)

func newLinkEndpoint(mac [6]byte, mtu uint32, queues []*queue) *linkEndpoint {
	e := &linkEndpoint{mac: mac, addr: tcpip.LinkAddress(mac[:]), queues: queues}
	e.mtu.Store(mtu)
	return e
}

// deliver hands a classified frame (EtherType et, link header included) to
// gVisor. The frame is copied; the caller may reuse it on return.
func (e *linkEndpoint) deliver(et uint16, frame []byte) bool {
	ref := e.disp.Load()
	if ref == nil {
		return false
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		Payload: buffer.MakeWithData(frame),
	})
	pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	switch {
	case frame[0] == 0xff && [6]byte(frame[0:6]) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		pkt.PktType = tcpip.PacketBroadcast
	case frame[0]&1 != 0:
		pkt.PktType = tcpip.PacketMulticast
	default:
		pkt.PktType = tcpip.PacketHost
	}
	proto := tcpip.NetworkProtocolNumber(et)
	pkt.NetworkProtocolNumber = proto
	ref.d.DeliverNetworkPacket(proto, pkt)
	pkt.DecRef()
	return true
}

// MTU implements stack.LinkEndpoint; it is the IP MTU.
func (e *linkEndpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (e *linkEndpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint.
func (e *linkEndpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *linkEndpoint) LinkAddress() tcpip.LinkAddress { return e.addr }

// SetLinkAddress implements stack.LinkEndpoint. The MAC is fixed at New: the
// receive filter and the fast path hold copies of it.
func (e *linkEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint. No checksum offload: without
// IFF_VNET_HDR the kernel hands us, and expects from us, complete checksums.
func (e *linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}

// Attach implements stack.LinkEndpoint.
func (e *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		e.disp.Store(nil)
		return
	}
	e.disp.Store(&dispatcherRef{d: d})
}

// IsAttached implements stack.LinkEndpoint.
func (e *linkEndpoint) IsAttached() bool { return e.disp.Load() != nil }

// Wait implements stack.LinkEndpoint. The readers belong to Stack, which
// waits for them itself.
func (e *linkEndpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *linkEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint.
func (e *linkEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.LinkEndpoint.
func (e *linkEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close implements stack.LinkEndpoint. The TAP files are closed by Stack
// after gVisor has let go of the endpoint.
func (e *linkEndpoint) Close() {
	e.mu.Lock()
	f := e.onClose
	e.onClose = nil
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *linkEndpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	e.onClose = f
	e.mu.Unlock()
}

// WritePackets implements stack.LinkWriter: one frame per write, on the
// queue chosen by the packet's flow hash. A frame the TAP refuses is counted
// and dropped like on a NIC; only a closed device is reported to gVisor.
func (e *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	sent := 0
	for _, pkt := range pkts.AsSlice() {
		q := e.queues[0]
		if len(e.queues) > 1 {
			q = e.queues[pkt.Hash%uint32(len(e.queues))]
		}
		if err := q.writePacket(pkt); err != nil {
			if sent == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return sent, nil
		}
		sent++
	}
	return sent, nil
}

// writePacket serialises pkt (link header included) into the queue's
// buffer and writes it. It returns an error only when the fd is closed.
func (q *queue) writePacket(pkt *stack.PacketBuffer) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	vl, off := pkt.AsViewList()
	n := 0
	for v := vl.Front(); v != nil; v = v.Next() {
		b := v.AsSlice()
		if off >= len(b) {
			off -= len(b)
			continue
		}
		b = b[off:]
		off = 0
		if n+len(b) > len(q.wbuf) {
			q.ctr.dropOversize.Add(1)
			return nil
		}
		n += copy(q.wbuf[n:], b)
	}
	return q.writeFrame(q.wbuf[:n])
}

// writeFrame writes one frame from gVisor (under wmu) and counts it.
// Errors other than a closed device are counted and swallowed.
func (q *queue) writeFrame(frame []byte) error {
	q.capture.frame(frame, true)
	if err := q.io.write(frame); err != nil {
		if err == errFDClosed {
			return err
		}
		q.ctr.writeErrors.Add(1)
		return nil
	}
	q.ctr.framesOut.Add(1)
	q.ctr.bytesOut.Add(uint64(len(frame)))
	return nil
}
