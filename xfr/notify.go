package xfr

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
)

// NOTIFY retransmission (RFC 1996 3.6 leaves the numbers to operators):
// notifyTries sends, the first after notifyTimeout, each later one after
// twice the previous wait. Knot DNS tries 5 times too.
const (
	notifyTries   = 5
	notifyTimeout = time.Second
)

// notifier sends NOTIFY for each serial change to every target. Changes
// of one zone are coalesced: a newer serial cuts the round in flight for
// an older one short (the targets will ask for the newest anyway). Each
// zone's rounds run in its own goroutine, owned by the notifier.
type notifier struct {
	c       *client
	targets []Remote
	log     *slog.Logger
	stats   func(origin string) *zoneCounters

	mu      sync.Mutex
	ctx     context.Context // nil until run
	latest  map[string]RR   // zone -> SOA waiting to be announced
	busy    map[string]bool // zone -> a round is in flight
	cancel  map[string]context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

func newNotifier(c *client, targets []Remote, stats func(string) *zoneCounters, log *slog.Logger) *notifier {
	return &notifier{c: c, targets: targets, log: log, stats: stats, latest: map[string]RR{}, busy: map[string]bool{},
		cancel: map[string]context.CancelFunc{}}
}

// queue asks for NOTIFY of zone at the version of soa. It never blocks.
func (n *notifier) queue(zone []byte, soa RR) {
	if len(n.targets) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.latest[string(zone)] = soa
	if cancel := n.cancel[string(zone)]; cancel != nil {
		cancel()
	}
	n.startLocked(string(zone))
}

func (n *notifier) startLocked(zone string) {
	if n.ctx == nil || n.busy[zone] {
		return
	}
	n.busy[zone] = true
	n.wg.Add(1)
	go n.loop(zone)
}

// run starts the rounds queued so far and stops all of them when ctx is
// done.
func (n *notifier) run(ctx context.Context) {
	n.mu.Lock()
	n.ctx = ctx
	for z := range n.latest {
		n.startLocked(z)
	}
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *notifier) loop(zone string) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		soa, ok := n.latest[zone]
		delete(n.latest, zone)
		if !ok || n.ctx.Err() != nil {
			n.busy[zone] = false
			n.mu.Unlock()
			return
		}
		ctx, cancel := context.WithCancel(n.ctx)
		n.cancel[zone] = cancel
		n.mu.Unlock()
		n.round(ctx, []byte(zone), soa)
		n.mu.Lock()
		delete(n.cancel, zone)
		n.mu.Unlock()
		cancel()
	}
}

// round sends NOTIFY to every target and retransmits to those that have
// not answered, up to notifyTries times.
func (n *notifier) round(ctx context.Context, zone []byte, soa RR) {
	type pending struct {
		t     Remote
		id    uint16
		msg   []byte
		sess  *tsig.Session
		acked bool
	}
	ps := make([]*pending, len(n.targets))
	for i, t := range n.targets {
		id := newID()
		msg, sess, err := sign(newQuery(id, dnswire.OpcodeNotify, zone, dnswire.TypeSOA, &soa, nil), t.Key, n.c.now())
		if err != nil {
			n.log.Error("cannot sign NOTIFY", "zone", nameText(zone), "target", t.Addr.String(), "err", err)
			ps[i] = &pending{t: t, acked: true}
			continue
		}
		ps[i] = &pending{t: t, id: id, msg: msg, sess: sess}
	}
	conns := map[bool]net.PacketConn{} // by IPv6
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ctr := n.stats(string(zone))
	serial := soaSerial(&soa)
	acked := make(chan int, len(ps))
	var readers sync.WaitGroup
	defer readers.Wait()
	defer func() {
		for _, c := range conns {
			c.SetDeadline(time.Unix(1, 0)) // unblocks the readers
		}
	}()
	for _, p := range ps {
		v6 := p.t.Addr.Addr().Is6()
		if p.acked || conns[v6] != nil {
			continue
		}
		laddr := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if v6 {
			laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
		c, err := n.c.net.ListenUDP(laddr)
		if err != nil {
			n.log.Error("cannot open a socket for NOTIFY", "zone", nameText(zone), "err", err)
			return
		}
		conns[v6] = c
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, dnswire.MaxMsgLen)
			for {
				k, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				ua, ok := from.(*net.UDPAddr)
				if !ok || k < 12 {
					continue
				}
				for i, p := range ps {
					// Only the immutable fields: acked belongs to round.
					if p.id != u16(buf) || p.t.Addr.Addr() != ua.AddrPort().Addr().Unmap() {
						continue
					}
					var a arena
					m, err := checkResponse(buf[:k], p.id, dnswire.OpcodeNotify, p.sess, n.c.now(), &a)
					switch {
					case err != nil:
						n.log.Warn("bad NOTIFY answer", "zone", nameText(zone), "target", p.t.Addr.String(), "err", err)
					case m.rcode() != dnswire.RcodeSuccess:
						n.log.Warn("NOTIFY refused", "zone", nameText(zone), "target", p.t.Addr.String(), "rcode", m.rcode().String())
						acked <- -1 - i
						continue
					default:
						acked <- i
					}
				}
			}
		}()
	}
	wait := notifyTimeout
	left := len(ps)
	for _, p := range ps {
		if p.acked {
			left--
		}
	}
	for try := 0; try < notifyTries && left > 0; try++ {
		for _, p := range ps {
			if p.acked {
				continue
			}
			if _, err := conns[p.t.Addr.Addr().Is6()].WriteTo(p.msg, net.UDPAddrFromAddrPort(p.t.Addr)); err != nil {
				n.log.Debug("NOTIFY send failed", "zone", nameText(zone), "target", p.t.Addr.String(), "err", err)
			}
		}
		timer := time.NewTimer(wait)
	collect:
		for left > 0 {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case i := <-acked:
				refused := i < 0
				if refused {
					i = -1 - i
				}
				if !ps[i].acked {
					ps[i].acked = true
					left--
					if refused {
						ctr.notifyFailed.Add(1)
					} else {
						ctr.notifySent.Add(1)
						n.log.Debug("NOTIFY acknowledged", "zone", nameText(zone), "serial", serial, "target", ps[i].t.Addr.String())
					}
				}
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		wait *= 2
	}
	for _, p := range ps {
		if !p.acked {
			ctr.notifyFailed.Add(1)
			n.log.Warn("NOTIFY not acknowledged", "zone", nameText(zone), "serial", serial, "target", p.t.Addr.String(), "tries", notifyTries)
		}
	}
}

func soaSerial(rr *RR) uint32 { s, _ := parseSOA(rr.Rdata); return s.Serial }

// errNotifyDenied is logged for NOTIFY from a sender that may not send it.
var errNotifyDenied = errors.New("NOTIFY from a sender that is neither the primary nor in --allow-notify")
