package xdp

import (
	"encoding/binary"
	"testing"
)

// FuzzParseAttrs: any bytes, as a netlink attribute stream (nested once),
// are walked without a panic and without reading past the input.
func FuzzParseAttrs(f *testing.F) {
	var xdp []byte
	var v [4]byte
	binary.NativeEndian.PutUint32(v[:], 7)
	xdp = appendAttr(xdp, 4, v[:]) // IFLA_XDP_PROG_ID
	xdp = appendAttr(xdp, 2, []byte{1})
	f.Add(appendAttr(nil, 43|nlaNested, xdp)) // IFLA_XDP
	f.Add([]byte{4, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		parseAttrs(b, func(typ uint16, data []byte) {
			n += len(data) + 4
			parseAttrs(data, func(uint16, []byte) {})
		})
		if n > len(b) {
			t.Fatalf("attributes cover %d bytes of %d", n, len(b))
		}
	})
}

func TestParseAttrs(t *testing.T) {
	var xdp []byte
	var v [4]byte
	binary.NativeEndian.PutUint32(v[:], 42)
	xdp = appendAttr(xdp, 4, v[:])               // IFLA_XDP_PROG_ID
	xdp = appendAttr(xdp, 2, []byte{1})          // IFLA_XDP_ATTACHED: driver
	b := appendAttr(nil, 31, []byte{2, 0, 0, 0}) // IFLA_NUM_RX_QUEUES
	b = appendAttr(b, 43|nlaNested, xdp)
	var got []uint16
	var prog uint32
	var attached byte
	parseAttrs(b, func(typ uint16, data []byte) {
		got = append(got, typ)
		if typ == 43 {
			parseAttrs(data, func(typ uint16, data []byte) {
				switch typ {
				case 4:
					prog = binary.NativeEndian.Uint32(data)
				case 2:
					attached = data[0]
				}
			})
		}
	})
	if len(got) != 2 || got[0] != 31 || got[1] != 43 || prog != 42 || attached != 1 {
		t.Errorf("types %v, prog %d, attached %d; want [31 43], 42, 1", got, prog, attached)
	}
}
