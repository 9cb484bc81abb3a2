package zone

import "strconv"

// The record types this package knows: their mnemonics, and for those with
// a presentation format, the layout of their rdata as a list of fields.
// One table serves the scanner (text to wire), the checks of wire rdata
// given to a Builder, and the canonical form of RFC 4034 section 6.2.

// kind is one field of a record type's rdata.
type kind uint8

const (
	kName   kind = iota + 1 // domain name, uncompressed
	kU8                     // decimal
	kU16                    // decimal
	kU32                    // decimal
	kAlg                    // u8: number or DNSSEC algorithm mnemonic (RFC 4034 A.1)
	kCert                   // u16: number or CERT type mnemonic (RFC 4398 2.1)
	kType                   // u16: record type mnemonic or TYPEnnn (RRSIG type covered)
	kPeriod                 // u32: TTL syntax, units allowed (SOA timers)
	kTime                   // u32: YYYYMMDDHHmmSS or seconds (RRSIG, SIG)
	kA                      // IPv4 address
	kAAAA                   // IPv6 address
	kStr                    // one character-string
	kStrs                   // character-strings to the end, at least one
	kB64                    // base64 to the end, tokens concatenated
	kHex                    // hex to the end, tokens concatenated, at least one octet
	kHexOpt                 // hex to the end, possibly none (or "-" ... none)
	kSalt                   // length octet and hex; "-" for none (NSEC3, NSEC3PARAM)
	kHash                   // length octet and base32hex (NSEC3 next hashed owner)
	kBitmap                 // NSEC type bitmap to the end, possibly empty
	kEUI48                  // xx-xx-xx-xx-xx-xx
	kEUI64                  // xx-xx-xx-xx-xx-xx-xx-xx
	kILNP64                 // xxxx:xxxx:xxxx:xxxx (NID, L64)
	kText                   // one string to the end, no length octet (CAA value, URI target)
	kTag                    // CAA tag: a character-string of letters and digits
	kFloat                  // a character-string holding a decimal number (GPOS)
	kOptStr                 // an optional last character-string (ISDN subaddress)
	kNSAP                   // 0x and hex, dots allowed (NSAP)

	// Whole-rdata formats with their own parsers.
	kLOC      // RFC 1876
	kAPL      // RFC 3123
	kWKS      // RFC 1035 3.4.2
	kIPSECKEY // RFC 4025
	kAMTRELAY // RFC 8777
	kSVCB     // RFC 9460 parameters after priority and target
	kHIP      // RFC 8005
	kNXT      // RFC 2535 5.2: name and a type bit map
)

// rrType describes one record type.
type rrType struct {
	name   string
	fields []kind // nil: no presentation format but RFC 3597's \#
	// lower: names in the rdata are lower-cased in the canonical form
	// (RFC 4034 section 6.2, as corrected by RFC 6840 section 5.1).
	lower bool
	// meta: a meta or query type (RFC 6895 3.1), never in a zone.
	meta bool
}

var (
	fName1    = []kind{kName}
	fName2    = []kind{kName, kName}
	fPrefName = []kind{kU16, kName}
	fDS       = []kind{kU16, kAlg, kU8, kHex}
	fDNSKEY   = []kind{kU16, kU8, kAlg, kB64}
	fRRSIG    = []kind{kType, kAlg, kU8, kU32, kTime, kTime, kU16, kName, kB64}
	fTLSA     = []kind{kU8, kU8, kU8, kHex}
	fStrs     = []kind{kStrs}
	fB64      = []kind{kB64}
	fHex      = []kind{kHex}
)

// types is indexed by type code.
var types = map[uint16]*rrType{
	1:     {name: "A", fields: []kind{kA}},
	2:     {name: "NS", fields: fName1, lower: true},
	3:     {name: "MD", fields: fName1, lower: true},
	4:     {name: "MF", fields: fName1, lower: true},
	5:     {name: "CNAME", fields: fName1, lower: true},
	6:     {name: "SOA", fields: []kind{kName, kName, kU32, kPeriod, kPeriod, kPeriod, kPeriod}, lower: true},
	7:     {name: "MB", fields: fName1, lower: true},
	8:     {name: "MG", fields: fName1, lower: true},
	9:     {name: "MR", fields: fName1, lower: true},
	10:    {name: "NULL"},
	11:    {name: "WKS", fields: []kind{kWKS}},
	12:    {name: "PTR", fields: fName1, lower: true},
	13:    {name: "HINFO", fields: []kind{kStr, kStr}},
	14:    {name: "MINFO", fields: fName2, lower: true},
	15:    {name: "MX", fields: fPrefName, lower: true},
	16:    {name: "TXT", fields: fStrs},
	17:    {name: "RP", fields: fName2, lower: true},
	18:    {name: "AFSDB", fields: fPrefName, lower: true},
	19:    {name: "X25", fields: []kind{kStr}},
	20:    {name: "ISDN", fields: []kind{kStr, kOptStr}},
	21:    {name: "RT", fields: fPrefName, lower: true},
	22:    {name: "NSAP", fields: []kind{kNSAP}},
	23:    {name: "NSAP-PTR", fields: fName1},
	24:    {name: "SIG", fields: fRRSIG, lower: true},
	25:    {name: "KEY", fields: fDNSKEY},
	26:    {name: "PX", fields: []kind{kU16, kName, kName}, lower: true},
	27:    {name: "GPOS", fields: []kind{kFloat, kFloat, kFloat}},
	28:    {name: "AAAA", fields: []kind{kAAAA}},
	29:    {name: "LOC", fields: []kind{kLOC}},
	30:    {name: "NXT", fields: []kind{kNXT}, lower: true},
	31:    {name: "EID", fields: fHex},
	32:    {name: "NIMLOC", fields: fHex},
	33:    {name: "SRV", fields: []kind{kU16, kU16, kU16, kName}, lower: true},
	34:    {name: "ATMA"},
	35:    {name: "NAPTR", fields: []kind{kU16, kU16, kStr, kStr, kStr, kName}, lower: true},
	36:    {name: "KX", fields: fPrefName, lower: true},
	37:    {name: "CERT", fields: []kind{kCert, kU16, kAlg, kB64}},
	38:    {name: "A6"},
	39:    {name: "DNAME", fields: fName1, lower: true},
	40:    {name: "SINK"},
	41:    {name: "OPT", meta: true},
	42:    {name: "APL", fields: []kind{kAPL}},
	43:    {name: "DS", fields: fDS},
	44:    {name: "SSHFP", fields: []kind{kU8, kU8, kHex}},
	45:    {name: "IPSECKEY", fields: []kind{kIPSECKEY}},
	46:    {name: "RRSIG", fields: fRRSIG, lower: true},
	47:    {name: "NSEC", fields: []kind{kName, kBitmap}},
	48:    {name: "DNSKEY", fields: fDNSKEY},
	49:    {name: "DHCID", fields: fB64},
	50:    {name: "NSEC3", fields: []kind{kU8, kU8, kU16, kSalt, kHash, kBitmap}},
	51:    {name: "NSEC3PARAM", fields: []kind{kU8, kU8, kU16, kSalt}},
	52:    {name: "TLSA", fields: fTLSA},
	53:    {name: "SMIMEA", fields: fTLSA},
	55:    {name: "HIP", fields: []kind{kHIP}},
	56:    {name: "NINFO", fields: fStrs},
	57:    {name: "RKEY", fields: fDNSKEY},
	58:    {name: "TALINK", fields: fName2},
	59:    {name: "CDS", fields: fDS},
	60:    {name: "CDNSKEY", fields: fDNSKEY},
	61:    {name: "OPENPGPKEY", fields: fB64},
	62:    {name: "CSYNC", fields: []kind{kU32, kU16, kBitmap}},
	63:    {name: "ZONEMD", fields: []kind{kU32, kU8, kU8, kHex}},
	64:    {name: "SVCB", fields: []kind{kU16, kName, kSVCB}},
	65:    {name: "HTTPS", fields: []kind{kU16, kName, kSVCB}},
	66:    {name: "DSYNC"},
	99:    {name: "SPF", fields: fStrs},
	100:   {name: "UINFO", fields: []kind{kStr}},
	101:   {name: "UID", fields: []kind{kU32}},
	102:   {name: "GID", fields: []kind{kU32}},
	103:   {name: "UNSPEC"},
	104:   {name: "NID", fields: []kind{kU16, kILNP64}},
	105:   {name: "L32", fields: []kind{kU16, kA}},
	106:   {name: "L64", fields: []kind{kU16, kILNP64}},
	107:   {name: "LP", fields: fPrefName},
	108:   {name: "EUI48", fields: []kind{kEUI48}},
	109:   {name: "EUI64", fields: []kind{kEUI64}},
	128:   {name: "NXNAME", meta: true},
	249:   {name: "TKEY", meta: true},
	250:   {name: "TSIG", meta: true},
	251:   {name: "IXFR", meta: true},
	252:   {name: "AXFR", meta: true},
	253:   {name: "MAILB", meta: true},
	254:   {name: "MAILA", meta: true},
	255:   {name: "ANY", meta: true},
	256:   {name: "URI", fields: []kind{kU16, kU16, kText}},
	257:   {name: "CAA", fields: []kind{kU8, kTag, kText}},
	258:   {name: "AVC", fields: fStrs},
	259:   {name: "DOA"},
	260:   {name: "AMTRELAY", fields: []kind{kAMTRELAY}},
	261:   {name: "RESINFO", fields: fStrs},
	262:   {name: "WALLET", fields: fStrs},
	32768: {name: "TA", fields: fDS},
	32769: {name: "DLV", fields: fDS},
}

// typeByName maps upper-case mnemonics to type codes.
var typeByName = func() map[string]uint16 {
	m := make(map[string]uint16, len(types)+1)
	for t, d := range types {
		m[d.name] = t
	}
	m["NSAPPTR"] = 23 // miekg/dns's spelling
	return m
}()

// Record type codes used by name in this package.
const (
	typeA          uint16 = 1
	typeNS         uint16 = 2
	typeSOA        uint16 = 6
	typeTXT        uint16 = 16
	typeSIG        uint16 = 24
	typeAAAA       uint16 = 28
	typeDNAME      uint16 = 39
	typeRRSIG      uint16 = 46
	typeNSEC       uint16 = 47
	typeDNSKEY     uint16 = 48
	typeNSEC3      uint16 = 50
	typeNSEC3PARAM uint16 = 51
)

// TypeText returns the mnemonic of a record type, or TYPEnnn (RFC 3597).
func TypeText(t uint16) string {
	if d := types[t]; d != nil {
		return d.name
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// algorithms are the DNSSEC algorithm mnemonics (RFC 4034 A.1 and its
// registry), as NSD and Knot DNS accept them.
var algorithms = map[string]uint8{
	"RSAMD5":             1,
	"DH":                 2,
	"DSA":                3,
	"ECC":                4,
	"RSASHA1":            5,
	"DSA-NSEC3-SHA1":     6,
	"RSASHA1-NSEC3-SHA1": 7,
	"RSASHA256":          8,
	"RSASHA512":          10,
	"ECC-GOST":           12,
	"ECDSAP256SHA256":    13,
	"ECDSAP384SHA384":    14,
	"ED25519":            15,
	"ED448":              16,
	"INDIRECT":           252,
	"PRIVATEDNS":         253,
	"PRIVATEOID":         254,
}

// certTypes are the CERT type mnemonics (RFC 4398 section 2.1).
var certTypes = map[string]uint16{
	"PKIX": 1, "SPKI": 2, "PGP": 3, "IPKIX": 4, "ISPKI": 5, "IPGP": 6,
	"ACPKIX": 7, "IACPKIX": 8, "URI": 253, "OID": 254,
}
