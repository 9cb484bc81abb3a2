package netstack

import (
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gatewayMACs tracks the gateways' MAC addresses as gVisor's neighbour
// tables resolve them, for the fast path, which answers off-link clients by
// sending to the gateway. It implements stack.NUDDispatcher, so it follows
// every change without polling. The gateway addresses are set before the
// stack starts and never change.
type gatewayMACs struct {
	gw4, gw6 tcpip.Address // zero: no gateway
	mac4     atomic.Uint64 // macValid | MAC in the low 48 bits; 0: unresolved
	mac6     atomic.Uint64
}

const macValid = 1 << 63

var _ stack.NUDDispatcher = (*gatewayMACs)(nil)

func packMAC(l tcpip.LinkAddress) uint64 {
	if len(l) != 6 {
		return 0
	}
	var v uint64
	for i := 0; i < 6; i++ {
		v = v<<8 | uint64(l[i])
	}
	return v | macValid
}

func unpackMAC(v uint64) ([6]byte, bool) {
	var m [6]byte
	if v&macValid == 0 {
		return m, false
	}
	for i := 5; i >= 0; i-- {
		m[i] = byte(v)
		v >>= 8
	}
	return m, true
}

func (g *gatewayMACs) update(e stack.NeighborEntry) {
	var v uint64
	switch e.State {
	case stack.Reachable, stack.Stale, stack.Delay, stack.Probe, stack.Static:
		v = packMAC(e.LinkAddr)
	}
	g.set(e.Addr, v)
}

func (g *gatewayMACs) set(a tcpip.Address, v uint64) {
	switch {
	case a.Len() == 0:
	case a == g.gw4:
		g.mac4.Store(v)
	case a == g.gw6:
		g.mac6.Store(v)
	}
}

// get returns the gateways' MACs and whether each is resolved.
func (g *gatewayMACs) get() (mac4, mac6 [6]byte, ok4, ok6 bool) {
	mac4, ok4 = unpackMAC(g.mac4.Load())
	mac6, ok6 = unpackMAC(g.mac6.Load())
	return
}

// OnNeighborAdded implements stack.NUDDispatcher.
func (g *gatewayMACs) OnNeighborAdded(_ tcpip.NICID, e stack.NeighborEntry) { g.update(e) }

// OnNeighborChanged implements stack.NUDDispatcher.
func (g *gatewayMACs) OnNeighborChanged(_ tcpip.NICID, e stack.NeighborEntry) { g.update(e) }

// OnNeighborRemoved implements stack.NUDDispatcher.
func (g *gatewayMACs) OnNeighborRemoved(_ tcpip.NICID, e stack.NeighborEntry) { g.set(e.Addr, 0) }
