package kernelnet

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestLoopbackUDPAndTCP(t *testing.T) {
	var n Net
	pc, err := n.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := n.SendUDP(netip.MustParseAddrPort("127.0.0.1:0"), dst, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	k, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "hello" {
		t.Fatalf("got %q, %v; want hello", buf[:k], err)
	}

	ln, err := n.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestListenUDPNeedsAddress(t *testing.T) {
	if _, err := (Net{}).ListenUDP(netip.AddrPort{}); err == nil {
		t.Fatal("got nil error for an invalid address, want one")
	}
}
