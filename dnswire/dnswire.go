// Package dnswire parses and writes DNS messages in wire format without
// allocating. It depends only on the standard library.
//
// ParseQuery reads a query in place and classifies it (answer, FORMERR,
// NOTIMP, drop); Builder appends a response with RFC 1035 name compression
// into a caller-owned buffer. Names handled here are uncompressed wire-format
// names unless stated otherwise; "canonical" means lower-cased ASCII.
//
// The name helpers every DNS package uses live here too: ReadName and
// SkipName for names in messages (compressed or not), IsSubdomain and
// LowerASCII, which do not allocate; and AppendName, ParseName and
// Unescape for presentation format, which are for configuration and zone
// files, not the query path (ParseName allocates, and their errors are
// formatted).
package dnswire

// Message layout limits (RFC 1035 section 2.3.4).
const (
	HeaderLen    = 12
	MaxNameLen   = 255 // octets of a wire-format name, root label included
	MaxLabelLen  = 63
	MinUDPSize   = 512   // RFC 1035 UDP limit and the floor of EDNS sizes
	MaxMsgLen    = 65535 // TCP limit
	maxPtrHops   = 128   // bound on compression pointer chains we follow
	optFixedLen  = 11    // root owner, type, class, TTL, rdlength of an OPT RR
	optionHdrLen = 4
)

// Resource record types.
const (
	TypeA      uint16 = 1
	TypeNS     uint16 = 2
	TypeMD     uint16 = 3
	TypeMF     uint16 = 4
	TypeCNAME  uint16 = 5
	TypeSOA    uint16 = 6
	TypeMB     uint16 = 7
	TypeMG     uint16 = 8
	TypeMR     uint16 = 9
	TypeNULL   uint16 = 10
	TypeWKS    uint16 = 11
	TypePTR    uint16 = 12
	TypeHINFO  uint16 = 13
	TypeMINFO  uint16 = 14
	TypeRP     uint16 = 17
	TypeMX     uint16 = 15
	TypeTXT    uint16 = 16
	TypeAFSDB  uint16 = 18
	TypeRT     uint16 = 21
	TypePX     uint16 = 26
	TypeAAAA   uint16 = 28
	TypeSRV    uint16 = 33
	TypeNAPTR  uint16 = 35
	TypeKX     uint16 = 36
	TypeDNAME  uint16 = 39
	TypeOPT    uint16 = 41
	TypeDS     uint16 = 43
	TypeRRSIG  uint16 = 46
	TypeNSEC   uint16 = 47
	TypeDNSKEY uint16 = 48
	TypeNSEC3  uint16 = 50
	TypeSVCB   uint16 = 64
	TypeHTTPS  uint16 = 65
	TypeTSIG   uint16 = 250
	TypeIXFR   uint16 = 251
	TypeAXFR   uint16 = 252
	TypeMAILB  uint16 = 253
	TypeMAILA  uint16 = 254
	TypeANY    uint16 = 255
	TypeCAA    uint16 = 257
)

// Classes.
const (
	ClassIN   uint16 = 1
	ClassCH   uint16 = 3
	ClassHS   uint16 = 4
	ClassNONE uint16 = 254
	ClassANY  uint16 = 255
)

// Response codes. Values above 15 are extended rcodes: the low four bits go
// in the header and the upper eight bits in the OPT record (RFC 6891 6.1.3).
const (
	RcodeSuccess  Rcode = 0
	RcodeFormErr  Rcode = 1
	RcodeServFail Rcode = 2
	RcodeNXDomain Rcode = 3
	RcodeNotImp   Rcode = 4
	RcodeRefused  Rcode = 5
	RcodeYXDomain Rcode = 6
	RcodeNotAuth  Rcode = 9
	RcodeBadVers  Rcode = 16
)

// Opcodes.
const (
	OpcodeQuery  Opcode = 0
	OpcodeIQuery Opcode = 1
	OpcodeStatus Opcode = 2
	OpcodeNotify Opcode = 4
	OpcodeUpdate Opcode = 5
)

// Header flag bits in the second 16-bit word of the header.
const (
	FlagQR uint16 = 1 << 15
	FlagAA uint16 = 1 << 10
	FlagTC uint16 = 1 << 9
	FlagRD uint16 = 1 << 8
	FlagRA uint16 = 1 << 7
	FlagZ  uint16 = 1 << 6
	FlagAD uint16 = 1 << 5
	FlagCD uint16 = 1 << 4

	// OpcodeMask selects the opcode field of header flags.
	OpcodeMask uint16 = 0xF << opcodeShift

	opcodeShift        = 11
	opcodeMask         = OpcodeMask
	rcodeMask   uint16 = 0xF
)

// EDNS constants.
const (
	EDNSFlagDO  uint16 = 1 << 15
	OptionNSID  uint16 = 3
	OptionEDE   uint16 = 15 // Extended DNS Error, RFC 8914
	DefaultEDNS        = 1232
)

// Extended DNS Error info-codes (RFC 8914 section 4) that responses use.
// EDENone means no Extended DNS Error option.
const (
	EDENone             EDE = -1
	EDEBlocked          EDE = 15
	EDEProhibited       EDE = 18
	EDENotAuthoritative EDE = 20
	EDENotSupported     EDE = 21
)

// FlagsOpcode returns the opcode field of header flags.
func FlagsOpcode(flags uint16) Opcode { return Opcode(flags & opcodeMask >> opcodeShift) }

// FlagsRcode returns the (non-extended) rcode field of header flags.
func FlagsRcode(flags uint16) Rcode { return Rcode(flags & rcodeMask) }

// FlagsWith returns flags with the opcode and low four rcode bits replaced
// (only the low four bits of an extended rcode go in the header).
func FlagsWith(flags uint16, opcode Opcode, rcode Rcode) uint16 {
	return flags&^(opcodeMask|rcodeMask) | uint16(opcode)<<opcodeShift&opcodeMask | uint16(rcode)&rcodeMask
}

// CompressibleRdata reports whether names inside rdata of type t may be
// compressed: only the well-known types of RFC 1035 (RFC 3597 section 4).
func CompressibleRdata(t uint16) bool {
	switch t {
	case TypeNS, TypeMD, TypeMF, TypeCNAME, TypeSOA, TypeMB, TypeMG, TypeMR, TypePTR, TypeMINFO, TypeMX:
		return true
	}
	return false
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// NameLen returns the length of the uncompressed wire-format name at the
// start of b, or -1 if b does not start with a valid uncompressed name
// (labels of at most 63 octets, at most 255 octets in all, no pointers).
func NameLen(b []byte) int {
	i := 0
	for {
		if i >= len(b) || i >= MaxNameLen {
			return -1
		}
		l := int(b[i])
		if l == 0 {
			return i + 1
		}
		if l > MaxLabelLen {
			return -1
		}
		i += 1 + l
	}
}

// CanonicalName writes the lower-cased copy of the uncompressed name at the
// start of src into dst and returns its length, or -1 if src does not start
// with a valid name. dst must hold MaxNameLen bytes.
func CanonicalName(dst *[MaxNameLen]byte, src []byte) int {
	i := 0
	for {
		if i >= len(src) || i >= MaxNameLen {
			return -1
		}
		l := int(src[i])
		dst[i] = byte(l)
		if l == 0 {
			return i + 1
		}
		if l > MaxLabelLen || i+1+l >= len(src) || i+1+l >= MaxNameLen {
			return -1
		}
		for j := i + 1; j <= i+l; j++ {
			dst[j] = lower(src[j])
		}
		i += 1 + l
	}
}
