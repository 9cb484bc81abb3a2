package reflector

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Counters are the reflector's statistics, updated atomically.
type Counters struct {
	RX, TX, Dropped, WriteErrors atomic.Uint64
}

// OpenTAP attaches to the existing TAP device name (IFF_TAP|IFF_NO_PI) and
// returns it as a non-blocking *os.File registered with Go's poller. Callers
// must never call Fd on it: that would switch the fd to blocking mode, and
// the tun driver only uses its fast skb path for non-blocking writes.
func OpenTAP(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %q: %w", name, err)
	}
	// os.NewFile sees O_NONBLOCK and registers the fd with the poller.
	return os.NewFile(uintptr(fd), "tap:"+name), nil
}

// Serve reflects frames on tap until ctx is done. It reads through the
// runtime poller: inside one RawConn.Read callback it does raw unix.Read
// and unix.Write until the TAP is drained (EAGAIN), then returns to the
// poller to wait. One read and at most one write syscall per frame. Serve
// closes nothing; the caller closes tap (which also ends a pending wait).
func (r *Reflector) Serve(ctx context.Context, tap *os.File, c *Counters) error {
	rc, err := tap.SyscallConn()
	if err != nil {
		return fmt.Errorf("syscall conn: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { tap.Close() })
	defer stop()
	buf := make([]byte, 65536)
	var rerr error
	for ctx.Err() == nil {
		// Counted locally and published once per drain: an atomic add per
		// frame would be measurable at this rate.
		var rx, tx, dropped, werr uint64
		err := rc.Read(func(fd uintptr) bool {
			defer func() {
				c.RX.Add(rx)
				c.TX.Add(tx)
				c.Dropped.Add(dropped)
				c.WriteErrors.Add(werr)
				rx, tx, dropped, werr = 0, 0, 0, 0
			}()
			for {
				n, err := unix.Read(int(fd), buf)
				if err != nil {
					if err == unix.EAGAIN {
						return false // wait in the poller
					}
					if err == unix.EINTR {
						continue
					}
					rerr = err
					return true
				}
				rx++
				m := r.Reflect(buf[:n])
				if m == 0 {
					dropped++
					continue
				}
				if _, err := unix.Write(int(fd), buf[:m]); err != nil {
					werr++
				} else {
					tx++
				}
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tap read: %w", err)
		}
		if rerr != nil {
			return fmt.Errorf("tap read: %w", rerr)
		}
	}
	return nil
}
