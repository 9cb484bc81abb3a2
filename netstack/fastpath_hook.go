package netstack

// This file connects the reader loop to the link-layer fast path, which lives
// in fastpath.go (written separately) behind this internal API:
//
//	newFastPath(cfg fastPathConfig, h Handler) *fastPath
//	(*fastPath).answer(rx, tx []byte, gwMAC4, gwMAC6 [6]byte, haveGW4, haveGW6 bool) (n int, handled bool)
//
// handled=false: give rx to gVisor unchanged; handled with n>0: write tx[:n]
// to the TAP; handled with n==0: dropped (counted by the fast path).

// fastHook binds the fast path to the stack's addresses and to the gateway
// MACs that gVisor's neighbour tables resolve.
type fastHook struct {
	f  *fastPath
	gw *gatewayMACs
}

// newFastHook makes the fast path of one queue. Each queue has its own, so
// that the counters of one core's reader are not a cache line shared with
// the others.
func newFastHook(s *Stack, queue int) *fastHook {
	c := fastPathConfig{MAC: s.mac, Port: s.cfg.Port, MTU: s.cfg.MTU, Queue: queue, Big: s.SendUDP}
	if s.cfg.Addr.IsValid() {
		c.Addr4 = s.cfg.Addr.Addr().As4()
		c.Prefix4 = s.cfg.Addr.Masked()
	}
	if s.cfg.Addr6.IsValid() {
		c.Addr6 = s.cfg.Addr6.Addr().As16()
		c.Prefix6 = s.cfg.Addr6.Masked()
	}
	return &fastHook{f: newFastPath(c, s.h), gw: &s.gw}
}

// answer runs the fast path on one received frame; tx is the reader's
// transmit buffer.
func (k *fastHook) answer(rx, tx []byte) (int, bool) {
	mac4, mac6, ok4, ok6 := k.gw.get()
	return k.f.answer(rx, tx, mac4, mac6, ok4, ok6)
}
