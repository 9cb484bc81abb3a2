package reflector

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/netstack/xdp"
)

// burst is the most frames taken from the RX ring at a time.
const burst = 64

// ServeXDP reflects frames on one AF_XDP socket until ctx is done. Inside
// one RawConn.Read callback it takes bursts of frames from the RX ring,
// writes each reflected frame into a transmit frame of the UMEM (the
// copy tapdns's fast path makes too: it builds a reply, it does not edit
// the query), and after each burst refills the fill ring and kicks the
// TX ring once. When the RX ring is empty it waits in Go's poller.
func (r *Reflector) ServeXDP(ctx context.Context, s *xdp.Socket, c *Counters) error {
	stop := context.AfterFunc(ctx, func() { s.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	descs := make([]unix.XDPDesc, burst)
	for ctx.Err() == nil {
		err := s.RawConn().Read(func(uintptr) bool {
			for ctx.Err() == nil {
				n := s.Receive(descs)
				if n == 0 {
					return false
				}
				var tx, dropped uint64
				for _, d := range descs[:n] {
					f := s.Frame(d)
					out := s.TakeTX()
					if f == nil || out == nil {
						dropped++
						s.Recycle(d)
						s.PutTX(out)
						continue
					}
					m := r.Reflect(out[:copy(out, f)])
					s.Recycle(d)
					s.SendTX(out, m) // m == 0 gives the frame back
					if m == 0 {
						dropped++
						continue
					}
					tx++
				}
				s.Refill()
				if err := s.Flush(); err != nil {
					c.WriteErrors.Add(1)
				}
				c.RX.Add(uint64(n))
				c.TX.Add(tx)
				c.Dropped.Add(dropped)
			}
			return true
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("xdp read: %w", err)
		}
	}
	return nil
}
