package dnswire

import (
	"fmt"
	"testing"
)

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{Question, "question"},
		{Additional, "additional"},
		{Section(4), "Section(4)"},
		{RcodeSuccess, "NOERROR"},
		{RcodeNXDomain, "NXDOMAIN"},
		{RcodeNotAuth, "NOTAUTH"},
		{RcodeBadVers, "BADVERS"},
		{Rcode(12), "RCODE12"},
		{Rcode(4095), "RCODE4095"},
		{OpcodeQuery, "QUERY"},
		{OpcodeNotify, "NOTIFY"},
		{Opcode(3), "OPCODE3"},
		{EDENone, "None"},
		{EDE(0), "Other Error"},
		{EDEProhibited, "Prohibited"},
		{EDENotAuthoritative, "Not Authoritative"},
		{EDE(24), "Invalid Data"},
		{EDE(25), "EDE25"},
		{StatusFormErr, "FormErr"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T(%d).String() = %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
}

func TestFlagsFields(t *testing.T) {
	f := FlagsWith(FlagQR|FlagRD|0xF, OpcodeNotify, RcodeBadVers|RcodeRefused)
	if got := FlagsOpcode(f); got != OpcodeNotify {
		t.Errorf("FlagsOpcode = %v, want NOTIFY", got)
	}
	if got := FlagsRcode(f); got != RcodeRefused {
		t.Errorf("FlagsRcode = %v, want REFUSED (the low four bits)", got)
	}
	if f&(FlagQR|FlagRD) != FlagQR|FlagRD {
		t.Errorf("FlagsWith lost QR/RD: %#04x", f)
	}
}
