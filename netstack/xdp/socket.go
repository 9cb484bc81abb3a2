package xdp

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults and limits of SocketConfig.
const (
	DefaultFrameSize = 4096
	DefaultFrames    = 1024
	maxFrames        = 1 << 16
)

// bindBusyWait is how long NewSocket retries a bind to a busy queue.
const bindBusyWait = 2 * time.Second

// SocketConfig configures one AF_XDP socket.
type SocketConfig struct {
	// Ifindex and Queue select the interface (in the calling thread's
	// network namespace) and the RX queue the socket is bound to.
	Ifindex int
	Queue   int
	// Copy forces copy mode, as generic (SKB-mode) XDP needs. Otherwise the
	// kernel uses zero-copy where the driver supports it and copy mode
	// elsewhere.
	Copy bool
	// FrameSize is the size of one UMEM frame: 2048 or 4096; 0 means 4096.
	// A received frame larger than FrameSize-256 is dropped by the kernel.
	FrameSize int
	// RXFrames and TXFrames are the number of frames of the receive and of
	// the transmit pool, which are also the sizes of their rings: powers
	// of two up to 65536; 0 means 1024.
	RXFrames, TXFrames int
}

func (c *SocketConfig) normalize() error {
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
	}
	if c.FrameSize != 2048 && c.FrameSize != 4096 {
		return fmt.Errorf("frame size %d: must be 2048 or 4096", c.FrameSize)
	}
	for _, n := range []*int{&c.RXFrames, &c.TXFrames} {
		if *n == 0 {
			*n = DefaultFrames
		}
		if *n < 8 || *n > maxFrames || *n&(*n-1) != 0 {
			return fmt.Errorf("ring size %d: must be a power of two in [8, %d]", *n, maxFrames)
		}
	}
	if c.Queue < 0 {
		return fmt.Errorf("queue %d: %w", c.Queue, ErrQueueRange)
	}
	return nil
}

// Socket is an AF_XDP socket bound to one RX queue of an interface, with a
// UMEM of its own split into two pools of frames:
//
//   - receive frames cycle from the fill ring to the kernel, back in the
//     RX ring, to the caller (Receive), and back to the fill ring (Recycle,
//     Refill);
//   - transmit frames cycle from a free list to the caller (TakeTX), to
//     the TX ring (SendTX, Flush) and, once sent, back through the
//     completion ring to the free list.
//
// Each ring is as large as its pool, so no ring can overflow.
//
// The receive side (Receive, Frame, Recycle, Refill) and the transmit side
// (TakeTX, SendTX, PutTX, Flush) may each be used by one goroutine at a time,
// independently of each other. Stats and KernelStats may be called from
// any goroutine. Close must not run while either side is in use.
type Socket struct {
	fd        int
	file      *os.File
	rc        syscall.RawConn
	queue     int
	zeroCopy  bool
	umem      []byte
	frameMask uint64
	frameSize uint64
	txBase    uint64   // UMEM address of the first transmit frame; receive frames lie below
	maps      [][]byte // the rings' mappings, for Close

	// Receive side.
	fill   addrRing
	rx     descRing
	rxFree []uint64 // receive frames held by no ring

	// Transmit side.
	tx      descRing
	comp    addrRing
	txFree  []uint64 // transmit frames ready for NextTX
	txBatch uint32   // frames sent since the last Flush

	ctr socketCounters

	closed atomic.Bool
}

// socketCounters are a socket's counters. Each side adds to them once per
// burst, not per frame.
type socketCounters struct {
	rxFrames   atomic.Uint64
	rxWakeups  atomic.Uint64
	rxInvalid  atomic.Uint64
	txFrames   atomic.Uint64
	txKicks    atomic.Uint64
	txKickErrs atomic.Uint64
	txNoFrame  atomic.Uint64
	_          [64]byte // keep the next socket's counters off this line
}

// SocketStats is a snapshot of a Socket's own counters.
type SocketStats struct {
	RXFrames   uint64 // frames taken from the RX ring
	RXWakeups  uint64 // system calls made because the fill ring needed a wakeup
	RXInvalid  uint64 // descriptors from the kernel outside the UMEM (dropped)
	TXFrames   uint64 // frames put on the TX ring
	TXKicks    uint64 // system calls made to start transmission
	TXKickErrs uint64 // of those, failed ones (the frames stay queued)
	TXNoFrame  uint64 // frames not sent because every transmit frame was in flight
}

// KernelStats are the kernel's counters for a socket (XDP_STATISTICS).
type KernelStats struct {
	RXDropped         uint64 // frames dropped, e.g. larger than a UMEM frame
	RXInvalidDescs    uint64
	TXInvalidDescs    uint64
	RXRingFull        uint64 // frames dropped because the RX ring was full
	RXFillRingEmpty   uint64 // times the kernel found no frame in the fill ring
	TXRingEmptyDescs  uint64
	ZeroCopy, Enabled bool // Enabled is false when the kernel has no statistics
}

// NewSocket creates an AF_XDP socket, registers its UMEM, fills the fill
// ring and binds it to cfg's interface and queue. It must run on a thread
// in the interface's network namespace. The socket is non-blocking and on
// Go's poller (see RawConn).
//
// Errors wrap ErrPermission, ErrNotSupported, ErrQueueRange or ErrBusy
// where one of those is the cause.
func NewSocket(cfg SocketConfig) (_ *Socket, err error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("create AF_XDP socket: %w (needs CAP_NET_RAW): %w", ErrPermission, err)
		case errors.Is(err, unix.EAFNOSUPPORT):
			return nil, fmt.Errorf("create AF_XDP socket: %w: the kernel has no AF_XDP (CONFIG_XDP_SOCKETS): %w", ErrNotSupported, err)
		}
		return nil, fmt.Errorf("create AF_XDP socket: %w", err)
	}
	s := &Socket{fd: fd, queue: cfg.Queue, frameSize: uint64(cfg.FrameSize), frameMask: ^uint64(cfg.FrameSize - 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	nrx, ntx := uint32(cfg.RXFrames), uint32(cfg.TXFrames)
	total := (cfg.RXFrames + cfg.TXFrames) * cfg.FrameSize
	if s.umem, err = unix.Mmap(-1, 0, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("map UMEM (%d bytes): %w", total, err)
	}
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))),
		Len:  uint64(len(s.umem)),
		Size: uint32(cfg.FrameSize),
	}
	if err := setsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("register UMEM (%d bytes): %w (locked memory: needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK): %w", total, ErrPermission, err)
		}
		return nil, fmt.Errorf("register UMEM (%d bytes): %w", total, err)
	}
	for _, r := range []struct {
		opt  int
		size uint32
	}{
		{unix.XDP_UMEM_FILL_RING, nrx}, {unix.XDP_RX_RING, nrx},
		{unix.XDP_TX_RING, ntx}, {unix.XDP_UMEM_COMPLETION_RING, ntx},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, r.opt, int(r.size)); err != nil {
			return nil, fmt.Errorf("set ring size %d (option %d): %w", r.size, r.opt, err)
		}
	}
	var off unix.XDPMmapOffsets
	if err := getsockopt(fd, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return nil, fmt.Errorf("get ring offsets: %w", err)
	}
	mapRing := func(o unix.XDPRingOffset, n uint32, entry uintptr, pgoff int64) ([]byte, error) {
		m, err := unix.Mmap(fd, pgoff, int(o.Desc)+int(n)*int(entry), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, fmt.Errorf("map ring (offset %#x): %w", pgoff, err)
		}
		s.maps = append(s.maps, m)
		return m, nil
	}
	descSize, addrSize := unsafe.Sizeof(unix.XDPDesc{}), unsafe.Sizeof(uint64(0))
	m, err := mapRing(off.Fr, nrx, addrSize, unix.XDP_UMEM_PGOFF_FILL_RING)
	if err != nil {
		return nil, err
	}
	s.fill = newRing[uint64](m, off.Fr, nrx, true)
	if m, err = mapRing(off.Rx, nrx, descSize, unix.XDP_PGOFF_RX_RING); err != nil {
		return nil, err
	}
	s.rx = newRing[unix.XDPDesc](m, off.Rx, nrx, false)
	if m, err = mapRing(off.Tx, ntx, descSize, unix.XDP_PGOFF_TX_RING); err != nil {
		return nil, err
	}
	s.tx = newRing[unix.XDPDesc](m, off.Tx, ntx, true)
	if m, err = mapRing(off.Cr, ntx, addrSize, unix.XDP_UMEM_PGOFF_COMPLETION_RING); err != nil {
		return nil, err
	}
	s.comp = newRing[uint64](m, off.Cr, ntx, false)

	// Receive frames are the first nrx, all of them in the fill ring from
	// the start; transmit frames the rest.
	s.txBase = uint64(nrx) * s.frameSize
	s.rxFree = make([]uint64, 0, nrx)
	for i := uint32(0); i < nrx; i++ {
		s.fill.push(uint64(i) * s.frameSize)
	}
	s.fill.publish()
	s.txFree = make([]uint64, 0, ntx)
	for i := ntx; i > 0; i-- {
		s.txFree = append(s.txFree, uint64(nrx+i-1)*s.frameSize)
	}

	// In copy mode one sendmsg transmits at most this many frames (32 by
	// default); a whole ring's worth lets one kick send a whole burst.
	// Kernels before 6.17 lack the option and keep 32.
	_ = unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, int(ntx))

	flags := uint16(unix.XDP_USE_NEED_WAKEUP)
	if cfg.Copy {
		flags |= unix.XDP_COPY
	}
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(cfg.Ifindex), QueueID: uint32(cfg.Queue)}
	err = unix.Bind(fd, sa)
	// The kernel releases a closed socket's hold on its queue in deferred
	// work, so a restart right after a crash (or a Close) can find the
	// queue busy for a moment.
	for wait := time.Duration(0); errors.Is(err, unix.EBUSY) && wait < bindBusyWait; wait += 20 * time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		switch {
		case errors.Is(err, unix.EINVAL):
			return nil, fmt.Errorf("bind to queue %d: %w: %w", cfg.Queue, ErrQueueRange, err)
		case errors.Is(err, unix.EBUSY):
			return nil, fmt.Errorf("bind to queue %d: %w: another AF_XDP socket (another tapdns, Knot DNS, ...) is bound to it: %w", cfg.Queue, ErrBusy, err)
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("bind to queue %d: %w: %w", cfg.Queue, ErrPermission, err)
		case errors.Is(err, unix.EOPNOTSUPP):
			return nil, fmt.Errorf("bind to queue %d: %w: %w", cfg.Queue, ErrNotSupported, err)
		}
		return nil, fmt.Errorf("bind to queue %d: %w", cfg.Queue, err)
	}
	var opts uint32
	if getsockopt(fd, unix.XDP_OPTIONS, unsafe.Pointer(&opts), unsafe.Sizeof(opts)) == nil {
		s.zeroCopy = opts&unix.XDP_OPTIONS_ZEROCOPY != 0
	}

	// A non-blocking fd handed to os.NewFile goes on Go's poller, which
	// waits for RX frames without a thread per socket.
	// Close closes the file, and with it fd, from here on.
	s.file = os.NewFile(uintptr(fd), fmt.Sprintf("xsk:%d:%d", cfg.Ifindex, cfg.Queue))
	if err := s.file.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("AF_XDP socket is not pollable: %w", err)
	}
	if s.rc, err = s.file.SyscallConn(); err != nil {
		return nil, err
	}
	return s, nil
}

// Queue returns the RX queue the socket is bound to.
func (s *Socket) Queue() int { return s.queue }

// ZeroCopy reports whether the driver runs the socket in zero-copy mode.
func (s *Socket) ZeroCopy() bool { return s.zeroCopy }

// FD returns the socket's file descriptor, for the XSKMAP. It stays owned
// by the Socket.
func (s *Socket) FD() int { return s.fd }

// RawConn returns the socket's connection to Go's poller. Its Read calls
// the callback, and when that returns false waits until the RX ring may
// have frames; SetReadDeadline ends the wait.
func (s *Socket) RawConn() syscall.RawConn { return s.rc }

// SetReadDeadline sets the deadline of RawConn's Read; a time in the past
// makes a pending Read return at once.
func (s *Socket) SetReadDeadline(t time.Time) error { return s.file.SetReadDeadline(t) }

// FrameCapacity returns the largest frame a transmit buffer holds.
func (s *Socket) FrameCapacity() int { return int(s.frameSize) }

// Receive takes up to len(descs) frames from the RX ring into descs and
// returns their number. The frames are the caller's until Recycle: read
// them with Frame. When the ring is empty and the kernel asked for a
// wakeup of the fill ring (XDP_USE_NEED_WAKEUP, zero-copy drivers), it
// makes that system call, so that waiting for readability is safe.
func (s *Socket) Receive(descs []unix.XDPDesc) int {
	n := int(s.rx.avail())
	if n == 0 {
		if s.fill.needWakeup() {
			s.ctr.rxWakeups.Add(1)
			_, _, _ = unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		}
		return 0
	}
	n = min(n, len(descs))
	for i := range n {
		descs[i] = s.rx.pop()
	}
	s.rx.release()
	s.ctr.rxFrames.Add(uint64(n))
	return n
}

// Frame returns the bytes of a received frame, or nil (counted) if the
// kernel's descriptor lies outside the UMEM. The slice is valid until the
// frame is recycled.
func (s *Socket) Frame(d unix.XDPDesc) []byte {
	end := d.Addr + uint64(d.Len)
	if d.Len == 0 || end > uint64(len(s.umem)) || d.Addr&s.frameMask != (end-1)&s.frameMask {
		s.ctr.rxInvalid.Add(1)
		return nil
	}
	return s.umem[d.Addr:end:end]
}

// Recycle gives a received frame back; Refill returns it to the kernel.
func (s *Socket) Recycle(d unix.XDPDesc) {
	a := d.Addr & s.frameMask
	if len(s.rxFree) == cap(s.rxFree) || a >= s.txBase {
		return // not a receive frame, or recycled twice
	}
	s.rxFree = append(s.rxFree, a)
}

// Refill puts every recycled frame back in the fill ring and publishes it.
// Call it once per burst.
func (s *Socket) Refill() {
	n := uint32(len(s.rxFree))
	if n == 0 {
		return
	}
	n = min(n, s.fill.free(n))
	top := uint32(len(s.rxFree))
	for i := top - n; i < top; i++ {
		s.fill.push(s.rxFree[i])
	}
	s.rxFree = s.rxFree[:top-n]
	s.fill.publish()
}

// TakeTX takes a transmit frame from the free list and returns its buffer
// (FrameCapacity bytes), or nil (counted as a frame not sent) when every
// transmit frame is in flight. The frame is the caller's until it passes
// it to SendTX or PutTX.
func (s *Socket) TakeTX() []byte {
	if len(s.txFree) == 0 {
		s.reap()
		if len(s.txFree) == 0 {
			s.ctr.txNoFrame.Add(1)
			return nil
		}
	}
	a := s.txFree[len(s.txFree)-1]
	s.txFree = s.txFree[:len(s.txFree)-1]
	return s.umem[a : a+s.frameSize : a+s.frameSize]
}

// SendTX queues buf[:n] for transmission; buf is a buffer from TakeTX,
// which goes back to the free list once sent. Nothing is sent before
// Flush. An n out of range gives the frame back unsent.
func (s *Socket) SendTX(buf []byte, n int) {
	a, ok := s.addrOf(buf)
	if !ok {
		return
	}
	if n <= 0 || uint64(n) > s.frameSize || s.tx.free(1) == 0 {
		s.txFree = append(s.txFree, a)
		return
	}
	s.tx.push(unix.XDPDesc{Addr: a, Len: uint32(n)})
	s.txBatch++
}

// PutTX gives back a buffer from TakeTX unsent.
func (s *Socket) PutTX(buf []byte) {
	if a, ok := s.addrOf(buf); ok && len(s.txFree) < cap(s.txFree) {
		s.txFree = append(s.txFree, a)
	}
}

// addrOf returns the UMEM address of a transmit frame buffer.
func (s *Socket) addrOf(buf []byte) (uint64, bool) {
	if cap(buf) == 0 || len(s.umem) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.umem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	a := uint64(p - base)
	if p < base || a >= uint64(len(s.umem)) || a&^s.frameMask != 0 || a < s.txBase {
		return 0, false // not the start of a transmit frame
	}
	return a, true
}

// maxKicks bounds the system calls one Flush makes: in copy mode a kernel
// without XDP_MAX_TX_SKB_BUDGET sends 32 frames per call.
const maxKicks = 8

// Flush publishes the frames sent since the last Flush and, when the
// kernel needs it (always in copy mode), kicks transmission with one
// system call, repeated only while the kernel reports it stopped early.
// It then moves completed frames back to the free list. It returns an
// error only for a kick that failed for a reason other than a full queue
// (the frames stay queued and go out with a later kick).
func (s *Socket) Flush() error {
	if s.txBatch > 0 {
		s.tx.publish()
		s.ctr.txFrames.Add(uint64(s.txBatch))
		s.txBatch = 0
	}
	var err error
	for i := 0; i < maxKicks && s.tx.pending() > 0 && s.tx.needWakeup(); i++ {
		s.ctr.txKicks.Add(1)
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		if e == 0 {
			break
		}
		s.reap()
		if e == unix.EAGAIN || e == unix.EBUSY || e == unix.ENOBUFS || e == unix.EINTR {
			continue
		}
		s.ctr.txKickErrs.Add(1)
		err = e
		break
	}
	s.reap()
	return err
}

// reap moves completed transmit frames to the free list.
func (s *Socket) reap() {
	n := s.comp.avail()
	if n == 0 {
		return
	}
	for range n {
		a := s.comp.pop() & s.frameMask
		if len(s.txFree) < cap(s.txFree) {
			s.txFree = append(s.txFree, a)
		}
	}
	s.comp.release()
}

// Err returns and clears the socket's pending error (SO_ERROR): ENETDOWN
// once the interface is gone. It is for the receive side's goroutine.
func (s *Socket) Err() error {
	n, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if n != 0 {
		return unix.Errno(n)
	}
	return nil
}

// Stats returns a snapshot of the socket's counters.
func (s *Socket) Stats() SocketStats {
	return SocketStats{
		RXFrames:   s.ctr.rxFrames.Load(),
		RXWakeups:  s.ctr.rxWakeups.Load(),
		RXInvalid:  s.ctr.rxInvalid.Load(),
		TXFrames:   s.ctr.txFrames.Load(),
		TXKicks:    s.ctr.txKicks.Load(),
		TXKickErrs: s.ctr.txKickErrs.Load(),
		TXNoFrame:  s.ctr.txNoFrame.Load(),
	}
}

// KernelStats returns the kernel's counters for the socket; Enabled is
// false when they cannot be read (an old kernel, or a closed socket).
func (s *Socket) KernelStats() KernelStats {
	var st unix.XDPStatistics
	if s.closed.Load() || getsockopt(s.fd, unix.XDP_STATISTICS, unsafe.Pointer(&st), unsafe.Sizeof(st)) != nil {
		return KernelStats{ZeroCopy: s.zeroCopy}
	}
	return KernelStats{
		RXDropped: st.Rx_dropped, RXInvalidDescs: st.Rx_invalid_descs, TXInvalidDescs: st.Tx_invalid_descs,
		RXRingFull: st.Rx_ring_full, RXFillRingEmpty: st.Rx_fill_ring_empty_descs, TXRingEmptyDescs: st.Tx_ring_empty_descs,
		ZeroCopy: s.zeroCopy, Enabled: true,
	}
}

// Close closes the socket and unmaps its memory. It is idempotent. No
// other method may run during or after it, except Stats.
func (s *Socket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var err error
	switch {
	case s.file != nil:
		err = s.file.Close()
	case s.fd >= 0:
		err = unix.Close(s.fd)
	}
	s.fd = -1
	// The kernel keeps the pages it pinned until the socket is released,
	// so unmapping after the close cannot pull memory from under it.
	for _, m := range s.maps {
		_ = unix.Munmap(m)
	}
	s.maps = nil
	if s.umem != nil {
		_ = unix.Munmap(s.umem)
		s.umem = nil
	}
	return err
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

func getsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	l := uint32(n)
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return e
	}
	return nil
}
