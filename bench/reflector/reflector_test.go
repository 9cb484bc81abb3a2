package reflector

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
)

var (
	ourMAC  = net.HardwareAddr{0x02, 0, 0xc6, 0x12, 0, 0x02}
	peerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	ourIP   = netip.MustParseAddr("198.18.0.2")
	peerIP  = netip.MustParseAddr("198.18.0.1")
)

// queryFrame builds Ethernet+IPv4+UDP around a 12-byte DNS header.
func queryFrame(dst netip.Addr, dport uint16, frag bool) []byte {
	f := append([]byte{}, ourMAC...)
	f = append(f, peerMAC...)
	f = append(f, 0x08, 0x00)
	ip := []byte{0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 17, 0xaa, 0xbb}
	if frag {
		ip[6], ip[7] = 0x20, 0 // MF
	}
	s, d := peerIP.As4(), dst.As4()
	ip = append(ip, s[:]...)
	ip = append(ip, d[:]...)
	f = append(f, ip...)
	f = append(f, 0xc0, 0x01, byte(dport>>8), byte(dport), 0, 20, 0x12, 0x34)
	f = append(f, 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	return f
}

func arpFrame(target netip.Addr, op byte) []byte {
	f := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	f = append(f, peerMAC...)
	f = append(f, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, op)
	f = append(f, peerMAC...)
	s, t := peerIP.As4(), target.As4()
	f = append(f, s[:]...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	return append(f, t[:]...)
}

func TestReflect(t *testing.T) {
	r := New(ourIP, ourMAC)
	tests := []struct {
		name string
		in   []byte
		want []byte // nil: dropped
	}{
		{"dns query", queryFrame(ourIP, 53, false), func() []byte {
			f := append([]byte{}, peerMAC...)
			f = append(f, ourMAC...)
			f = append(f, 0x08, 0x00, 0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 17, 0xaa, 0xbb)
			d, s := peerIP.As4(), ourIP.As4()
			f = append(f, s[:]...)
			f = append(f, d[:]...)
			f = append(f, 0, 53, 0xc0, 0x01, 0, 20, 0, 0)
			return append(f, 0xab, 0xcd, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
		}()},
		{"other port", queryFrame(ourIP, 54, false), nil},
		{"other address", queryFrame(peerIP, 53, false), nil},
		{"fragment", queryFrame(ourIP, 53, true), nil},
		{"short dns", queryFrame(ourIP, 53, false)[:14+20+8+11], nil},
		{"runt", []byte{1, 2, 3}, nil},
		{"arp request", arpFrame(ourIP, 1), func() []byte {
			f := append([]byte{}, peerMAC...)
			f = append(f, ourMAC...)
			f = append(f, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2)
			f = append(f, ourMAC...)
			s, d := ourIP.As4(), peerIP.As4()
			f = append(f, s[:]...)
			f = append(f, peerMAC...)
			return append(f, d[:]...)
		}()},
		{"arp for another host", arpFrame(peerIP, 1), nil},
		{"arp reply", arpFrame(ourIP, 2), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := append([]byte{}, tt.in...)
			n := r.Reflect(f)
			if tt.want == nil {
				if n != 0 {
					t.Fatalf("Reflect = %d, want 0 (drop)", n)
				}
				return
			}
			if got := f[:n]; !bytes.Equal(got, tt.want) {
				t.Errorf("Reflect:\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(tt.want))
			}
		})
	}
}

func TestReflectAllocs(t *testing.T) {
	r := New(ourIP, ourMAC)
	q := queryFrame(ourIP, 53, false)
	f := make([]byte, len(q))
	if a := testing.AllocsPerRun(100, func() { copy(f, q); r.Reflect(f) }); a != 0 {
		t.Errorf("Reflect allocates %v times per frame, want 0", a)
	}
}

func FuzzReflect(f *testing.F) {
	f.Add(queryFrame(ourIP, 53, false))
	f.Add(arpFrame(ourIP, 1))
	r := New(ourIP, ourMAC)
	f.Fuzz(func(t *testing.T, b []byte) {
		n := r.Reflect(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Reflect = %d for a %d-byte frame", n, len(b))
		}
	})
}
