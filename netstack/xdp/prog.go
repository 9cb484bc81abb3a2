package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// ProgramName is the name of the XDP program tapdns loads. An attached
// program of this name that no live process owns was left by a tapdns
// that died, and Open detaches it.
const ProgramName = "tapdns"

// maxAddrs bounds each address map (unicast and multicast together).
const maxAddrs = 64

// XDP return codes (uapi bpf.h).
const (
	xdpPass = 2
)

// program is the XDP program and its maps. The program sends a frame to
// the AF_XDP socket of the queue it arrived on when it is
//   - IPv4 to an address in v4, or ARP whose target address is in v4;
//   - IPv6 to an address in v6, or a neighbour solicitation sent to a
//     solicited-node group whose target address is in v6 (the group alone
//     could be the host's too);
//
// and passes everything else to the kernel, as it does when the queue has
// no socket in xsks. The maps hold addresses as they appear on the wire.
type program struct {
	prog *ebpf.Program
	xsks *ebpf.Map // XSKMAP: RX queue -> socket
	v4   *ebpf.Map // hash: [4]byte -> uint8
	v6   *ebpf.Map // hash: [16]byte -> uint8
}

// Frame offsets the program reads (Ethernet II, no VLAN tag).
const (
	offEtherType = 12
	offIPv4Dst   = 14 + 16
	offARPTarget = 14 + 24
	offIPv6Next  = 14 + 6
	offIPv6Dst   = 14 + 24
	offICMPv6    = 14 + 40
	offNSTarget  = offICMPv6 + 8

	icmpv6NS    = 135
	protoICMPv6 = 58
)

// ne16 and ne32 return the value a BPF load of b gives (the host's byte
// order), for comparisons against packet bytes.
func ne16(b ...byte) int32 { return int32(binary.NativeEndian.Uint16(b)) }
func ne32(b ...byte) int32 { return int32(binary.NativeEndian.Uint32(b)) }

// newProgram creates the maps (xsks with room for queues sockets) and
// loads the program.
func newProgram(queues int) (_ *program, err error) {
	p := &program{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.xsks, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tapdns_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(queues)}); err != nil {
		return nil, bpfError("create XSKMAP", err)
	}
	if p.v4, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tapdns_v4", Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: maxAddrs}); err != nil {
		return nil, bpfError("create address map", err)
	}
	if p.v6, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tapdns_v6", Type: ebpf.Hash, KeySize: 16, ValueSize: 1, MaxEntries: maxAddrs}); err != nil {
		return nil, bpfError("create address map", err)
	}
	if p.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         ProgramName,
		Type:         ebpf.XDP,
		License:      "GPL", // required by nothing it calls; the kernel wants some string
		Instructions: p.instructions(),
	}); err != nil {
		return nil, bpfError("load XDP program", err)
	}
	return p, nil
}

// instructions returns the program. Registers: R6 the context, R2 and R3
// the packet's start and end (until a helper call clobbers them), R5 and
// R7 the lookup key.
func (p *program) instructions() asm.Instructions {
	const (
		ctx     = asm.R6
		data    = asm.R2
		dataEnd = asm.R3
		tmp     = asm.R4
	)
	// need checks that the frame has n bytes, passing it otherwise.
	need := func(n int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(tmp, data),
			asm.Add.Imm(tmp, n),
			asm.JGT.Reg(tmp, dataEnd, "pass"),
		}
	}
	var in asm.Instructions
	add := func(is ...asm.Instruction) { in = append(in, is...) }
	withSym := func(sym string, is asm.Instructions) asm.Instructions {
		is[0] = is[0].WithSymbol(sym)
		return is
	}

	add(
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(data, asm.R1, 0, asm.Word),    // xdp_md.data
		asm.LoadMem(dataEnd, asm.R1, 4, asm.Word), // xdp_md.data_end
	)
	add(need(14)...)
	add(
		asm.LoadMem(asm.R5, data, offEtherType, asm.Half),
		asm.JEq.Imm(asm.R5, ne16(0x08, 0x00), "ipv4"),
		asm.JEq.Imm(asm.R5, ne16(0x08, 0x06), "arp"),
		asm.JEq.Imm(asm.R5, ne16(0x86, 0xdd), "ipv6"),
		asm.Ja.Label("pass"),
	)

	// IPv4: the destination address is the key.
	add(withSym("ipv4", need(offIPv4Dst+4))...)
	add(
		asm.LoadMem(asm.R5, data, offIPv4Dst, asm.Word),
		asm.Ja.Label("lookup4"),
	)
	// ARP: the target protocol address is the key.
	add(withSym("arp", need(offARPTarget+4))...)
	add(
		asm.LoadMem(asm.R5, data, offARPTarget, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R5, asm.Word).WithSymbol("lookup4"),
		asm.LoadMapPtr(asm.R1, p.v4.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "pass"),
		asm.Ja.Label("redirect"),
	)

	// IPv6: the destination address is the key, unless it is a
	// solicited-node group (ff02::1:ffxx:xxxx), where only a neighbour
	// solicitation for one of our addresses is ours.
	add(withSym("ipv6", need(offIPv6Dst+16))...)
	add(
		asm.LoadMem(asm.R5, data, offIPv6Dst, asm.DWord),
		asm.LoadMem(asm.R7, data, offIPv6Dst+8, asm.DWord),
		asm.LoadImm(asm.R8, int64(binary.NativeEndian.Uint64([]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0})), asm.DWord),
		asm.JNE.Reg(asm.R5, asm.R8, "key6"),
		asm.LoadMem(asm.R8, data, offIPv6Dst+8, asm.Word),
		asm.JNE.Imm(asm.R8, ne32(0, 0, 0, 1), "key6"),
		asm.LoadMem(asm.R8, data, offIPv6Dst+12, asm.Byte),
		asm.JNE.Imm(asm.R8, 0xff, "key6"),
		asm.LoadMem(asm.R8, data, offIPv6Next, asm.Byte),
		asm.JNE.Imm(asm.R8, protoICMPv6, "pass"),
	)
	add(need(offNSTarget + 16)...)
	add(
		asm.LoadMem(asm.R8, data, offICMPv6, asm.Byte),
		asm.JNE.Imm(asm.R8, icmpv6NS, "pass"),
		asm.LoadMem(asm.R5, data, offNSTarget, asm.DWord),
		asm.LoadMem(asm.R7, data, offNSTarget+8, asm.DWord),
		asm.StoreMem(asm.RFP, -16, asm.R5, asm.DWord).WithSymbol("key6"),
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord),
		asm.LoadMapPtr(asm.R1, p.v6.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "pass"),
	)

	// To the socket of this RX queue; XDP_PASS when it has none.
	add(
		asm.LoadMapPtr(asm.R1, p.xsks.FD()).WithSymbol("redirect"),
		asm.LoadMem(asm.R2, ctx, 16, asm.Word), // xdp_md.rx_queue_index
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
		asm.Return(),
	)
	return in
}

// setSocket puts fd in queue's slot of the XSKMAP.
func (p *program) setSocket(queue, fd int) error {
	if err := p.xsks.Put(uint32(queue), uint32(fd)); err != nil {
		return bpfError(fmt.Sprintf("add queue %d socket to XSKMAP", queue), err)
	}
	return nil
}

// addAddr makes frames for a (see program) go to the sockets.
func (p *program) addAddr(a netip.Addr) error {
	var err error
	switch {
	case a.Is4():
		err = p.v4.Put(a.As4(), uint8(1))
	case a.Is6() && !a.Is4In6():
		err = p.v6.Put(a.As16(), uint8(1))
	default:
		return fmt.Errorf("address %v: not IPv4 or IPv6", a)
	}
	if err != nil {
		return bpfError(fmt.Sprintf("add address %v", a), err)
	}
	return nil
}

// removeAddr undoes addAddr; an address not there is no error.
func (p *program) removeAddr(a netip.Addr) error {
	var err error
	switch {
	case a.Is4():
		err = p.v4.Delete(a.As4())
	case a.Is6() && !a.Is4In6():
		err = p.v6.Delete(a.As16())
	default:
		return nil
	}
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return bpfError(fmt.Sprintf("remove address %v", a), err)
	}
	return nil
}

func (p *program) close() {
	if p.prog != nil {
		_ = p.prog.Close()
	}
	for _, m := range []*ebpf.Map{p.xsks, p.v4, p.v6} {
		if m != nil {
			_ = m.Close()
		}
	}
}

// bpfError wraps a bpf(2) failure, naming the missing privilege.
func bpfError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w (needs CAP_BPF and CAP_NET_ADMIN, or root): %w", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
