package dnswire

import "strconv"

// Section is one of a message's four sections. Builder adds records in
// section order; values outside Question..Additional are invalid.
type Section uint8

// String returns the section's name in lower case ("answer").
func (s Section) String() string {
	switch s {
	case Question:
		return "question"
	case Answer:
		return "answer"
	case Authority:
		return "authority"
	case Additional:
		return "additional"
	}
	return "Section(" + strconv.Itoa(int(s)) + ")"
}

// Rcode is a response code, extended (RFC 6891 section 6.1.3) when above
// 15: FlagsWith puts the low four bits in the header, and the OPT record
// carries the upper eight. The zero value is RcodeSuccess.
type Rcode uint16

// rcodeNames are the IANA mnemonics, as dig and kdig print them. 16 is
// BADVERS in an OPT and BADSIG in a TSIG record; responses here only ever
// mean BADVERS.
var rcodeNames = [...]string{
	0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
	5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
	10: "NOTZONE", 11: "DSOTYPENI", 16: "BADVERS", 17: "BADKEY", 18: "BADTIME",
	19: "BADMODE", 20: "BADNAME", 21: "BADALG", 22: "BADTRUNC", 23: "BADCOOKIE",
}

// String returns the rcode's mnemonic ("NXDOMAIN"), or "RCODE" and the
// number for an unassigned value.
func (r Rcode) String() string {
	if int(r) < len(rcodeNames) && rcodeNames[r] != "" {
		return rcodeNames[r]
	}
	return "RCODE" + strconv.Itoa(int(r))
}

// Opcode is the four-bit operation code of a message header.
type Opcode uint8

// String returns the opcode's mnemonic ("QUERY"), or "OPCODE" and the
// number for an unassigned value.
func (o Opcode) String() string {
	switch o {
	case OpcodeQuery:
		return "QUERY"
	case OpcodeIQuery:
		return "IQUERY"
	case OpcodeStatus:
		return "STATUS"
	case OpcodeNotify:
		return "NOTIFY"
	case OpcodeUpdate:
		return "UPDATE"
	case 6:
		return "DSO" // RFC 8490
	}
	return "OPCODE" + strconv.Itoa(int(o))
}

// EDE is an Extended DNS Error info-code (RFC 8914), 0..65535, or EDENone
// for "no Extended DNS Error option". The zero value is info-code 0, Other
// Error, not EDENone.
type EDE int32

// edeNames are the RFC 8914 section 4 names.
var edeNames = [...]string{
	"Other Error", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type",
	"Stale Answer", "Forged Answer", "DNSSEC Indeterminate", "DNSSEC Bogus",
	"Signature Expired", "Signature Not Yet Valid", "DNSKEY Missing",
	"RRSIGs Missing", "No Zone Key Bit Set", "NSEC Missing", "Cached Error",
	"Not Ready", "Blocked", "Censored", "Filtered", "Prohibited",
	"Stale NXDomain Answer", "Not Authoritative", "Not Supported",
	"No Reachable Authority", "Network Error", "Invalid Data",
}

// String returns the info-code's RFC 8914 name ("Not Authoritative"),
// "None" for EDENone, or "EDE" and the number for an unassigned value.
func (e EDE) String() string {
	if e == EDENone {
		return "None"
	}
	if e >= 0 && int(e) < len(edeNames) {
		return edeNames[e]
	}
	return "EDE" + strconv.Itoa(int(e))
}
