package zone

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const scanHead = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n" // lines 1-4

// parseOne loads scanHead plus one record at www.example.com. and returns
// the rdata of that record's RRset (the first record).
func parseOne(t *testing.T, record string) (*Zone, []byte, error) {
	t.Helper()
	z, err := Parse(strings.NewReader(scanHead+record+"\n"), "t.zone", "")
	if err != nil {
		return nil, nil, err
	}
	n := z.Node(wireName(t, "www.example.com."))
	if n == nil || len(n.RRsets) == 0 {
		t.Fatalf("%s: no record at www.example.com.", record)
	}
	rd := rdatas(&n.RRsets[0])
	return z, []byte(rd[0]), nil
}

// TestTypesAgainstMiekg parses one record of every type with a text
// format, in several spellings, and compares the wire rdata with
// miekg/dns's.
func TestTypesAgainstMiekg(t *testing.T) {
	records := []string{
		"www A 192.0.2.1",
		"www AAAA 2001:db8::1",
		"www AAAA ::ffff:192.0.2.1",
		"www AAAA 2001:DB8:0:0:1:0:0:1",
		"www AAAA ::",
		"www NS ns.Example.NET.",
		"www MD md", "www MF mf", "www MB mb", "www MG mg", "www MR mr",
		"www CNAME a\\.b.example.net.",
		"www PTR host\\032name",
		"www HINFO \"Intel x86\" Linux",
		"www MINFO rm em",
		"www MX 10 mail",
		`www TXT "a" b "c\"d" "\059;" ""`,
		"www TXT ( \"multi\"\n  \"line\" )",
		"www RP mbox.example. txt",
		"www AFSDB 1 afs",
		"www X25 311061700956",
		"www ISDN \"150862028003217\" \"004\"",
		"www RT 10 relay",
		"www NSAP-PTR host.example.",
		"www SIG A 8 3 300 20300101000000 20200101000000 12345 example.com. AQID",
		"www PX 10 map822 mapx400",
		"www GPOS -32.6882 116.8652 10.0",
		"www LOC 42 21 54 N 71 06 18 W -24m 30m",
		"www LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
		"www LOC 32 7 19 S 116 2 25 E 10m",
		"www LOC 42 N 71 W 1m 1m 1m 1m",
		"www EID 0123456789abcdef",
		"www NIMLOC 0123 4567",
		"www SRV 10 20 443 target",
		"www NAPTR 100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp",
		"www KX 10 kx",
		"www CERT PKIX 0 0 MIIB",
		"www CERT 1 2 RSASHA1 MIIBAA==",
		"www DNAME other.example.",
		"www APL 1:192.168.32.0/21 !1:192.168.38.0/28",
		"www APL 1:224.0.0.0/4 2:FF00:0:0:0:0:0:0:0/8",
		"www APL",
		"www DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
		"www DS 60485 RSASHA1 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
		"www SSHFP 2 1 123456789abcdef67890123456789abcdef67890",
		"www IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
		"www IPSECKEY 10 3 2 gw.example.net. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
		"www IPSECKEY 10 2 2 2001:0DB8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
		"www RRSIG A 8 3 300 20300101000000 20200101000000 12345 example.com. AQIDBA==",
		"www RRSIG A RSASHA256 3 300 1893456000 1577836800 12345 example.com. AQID BA==",
		"www NSEC next.example.com. A MX RRSIG NSEC TYPE1234",
		"www NSEC next.example.com.",
		"www DNSKEY 257 3 8 AwEAAag/0FrrC9kgqC+gSXqF ( DJTCwo6B0s8= )",
		"www DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
		"www NSEC3 1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
		"www NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s",
		"www NSEC3PARAM 1 0 12 aabbccdd",
		"www NSEC3PARAM 1 0 0 -",
		"www TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"www SMIMEA 3 1 1 0123456789abcdef",
		"www HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs.example.com.",
		"www NINFO \"info\"",
		"www RKEY 0 3 5 AQID",
		"www TALINK prev.example. next.example.",
		"www CDS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
		"www CDS 0 0 0 00",
		"www CDNSKEY 0 3 0 AA==",
		"www OPENPGPKEY AQIDBA==",
		"www CSYNC 66 3 A NS AAAA",
		"www ZONEMD 2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE",
		"www SVCB 1 . alpn=h2,h3 port=8443",
		"www HTTPS 1 . alpn=\"h2,h3\" ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1",
		"www HTTPS 0 svc.example.",
		"www HTTPS 1 . mandatory=alpn,ipv4hint alpn=h3 ipv4hint=192.0.2.1 no-default-alpn",
		"www SVCB 1 . key65000=abc ech=AQID dohpath=/q{?dns}",
		"www SPF \"v=spf1 -all\"",
		"www UINFO \"user info\"",
		"www UID 1000",
		"www GID 1000",
		"www NID 10 0014:4fff:ff20:ee64",
		"www L32 10 10.1.2.0",
		"www L64 10 2001:0DB8:1140:1000",
		"www LP 10 l64-subnet1.example.com.",
		"www EUI48 00-00-5e-00-53-2a",
		"www EUI64 00-00-5e-ef-10-00-00-2a",
		"www URI 10 1 \"ftp://ftp1.example.com/public\"",
		"www CAA 0 issue \"ca.example.net\"",
		"www CAA 128 tbs \"Unknown\"",
		"www CAA 0 issue \";\"",
		"www AVC \"app-name:WOLFGANG|app-class:OAM\"",
		"www RESINFO qnamemin exterr=15,16,17",
		"www AMTRELAY 10 0 1 203.0.113.15",
		"www AMTRELAY 10 0 0 .",
		"www TA 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
		"www DLV 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
		"www TYPE1 \\# 4 C0000201",
		"www TYPE65280 \\# 0",
		"www TYPE65280 \\# 3 01 0203",
		"www A \\# 4 C0000201",
		"www 3600 IN A 192.0.2.1",
		"www IN 1h30m A 192.0.2.1",
		"www in a 192.0.2.1",
		"www CLASS1 TYPE1 192.0.2.1",
	}
	for _, rec := range records {
		t.Run(rec, func(t *testing.T) {
			_, got, err := parseOne(t, rec)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			zp := dns.NewZoneParser(strings.NewReader(scanHead+rec+"\n"), "", "")
			var rr dns.RR
			for r, ok := zp.Next(); ok; r, ok = zp.Next() {
				rr = r
			}
			if err := zp.Err(); err != nil {
				t.Fatalf("miekg: %v", err)
			}
			want := packRR(t, rr)
			if string(got) != string(want) {
				t.Errorf("rdata\n got: %x\nwant: %x (miekg)", got, want)
			}
		})
	}
}

// TestRecordsMiekgRejected are records that NSD (and mostly Knot DNS)
// accept but miekg/dns rejected or packed wrongly (issue 13 item 5): the
// wire form is given here.
func TestRecordsMiekgRejected(t *testing.T) {
	tests := []struct {
		name, rec, wire string
	}{
		{"IPSECKEY gateway . without key", "www IPSECKEY 10 0 2 .", "0a0002"},
		{"IPSECKEY gateway . with key", "www IPSECKEY 10 0 2 . AQID", "0a0002010203"},
		{"DNSKEY algorithm mnemonic", "www DNSKEY 257 3 RSASHA256 AwEAAQ==", "0101030803010001"},
		{"DNSKEY algorithm mnemonic, lower case", "www DNSKEY 256 3 ecdsap256sha256 AQID", "0100030d010203"},
		{"NSEC types out of order", "www NSEC next.example.com. RRSIG A NSEC MX", "046e657874076578616d706c6503636f6d000006400100000003"},
		{"NSEC3 types out of order", "www NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s RRSIG A", "0100000000" + "14" + "17f3df17b2b2adaef615257de4d2020b80ac6c7c" + "0006400000000002"},
		{"WKS by name", "www WKS 192.0.2.1 TCP smtp domain", "c000020106" + "00000040" + strings.Repeat("00", 2) + "04"},
		{"WKS by number", "www WKS 192.0.2.1 17 53", "c000020111" + strings.Repeat("00", 6) + "04"},
		{"X25 quoted", "www X25 \"311 061 700 956\"", "0f333131203036312037303020393536"},
		{"NXT", "www NXT next.example.com. A NS SOA", "046e657874076578616d706c6503636f6d00" + "62"},
		{"NSAP", "www NSAP 0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00", "47000580005a0000000001e133ffffff00016200"},
		{"TXT longer than 255", "www TXT \"" + strings.Repeat("x", 300) + "\"", "ff" + strings.Repeat("78", 255) + "2d" + strings.Repeat("78", 45)},
		{"KEY algorithm mnemonic", "www KEY 256 3 RSASHA256 AwEAAQ==", "0100030803010001"},
		{"CDNSKEY algorithm mnemonic", "www CDNSKEY 257 3 ECDSAP256SHA256 AwEAAQ==", "0101030d03010001"},
		{"ISDN without subaddress (RFC 1183 3.2; miekg adds an empty one)", "www ISDN 150862028003217", "0f313530383632303238303033323137"},
		{"AMTRELAY with a name relay (miekg drops it)", "www AMTRELAY 10 1 3 amt.example.com.", "0a8303616d74076578616d706c6503636f6d00"},
		{"CAA with a quoted tag value spanning a comment char", "www CAA 0 iodef \"mailto:a@example.com;x\"", "0005696f6465666d61696c746f3a61406578616d706c652e636f6d3b78"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseOne(t, tt.rec)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if hex.EncodeToString(got) != tt.wire {
				t.Errorf("rdata\n got: %x\nwant: %s", got, tt.wire)
			}
		})
	}
}

// TestIPSECKEYThenRecord: an IPSECKEY record followed by another line
// used to be rejected ("garbage after rdata" naming the next line's first
// word).
func TestIPSECKEYThenRecord(t *testing.T) {
	text := scanHead + "www IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==\nnext A 192.0.2.1\nwww IPSECKEY 10 0 2 .\nlast A 192.0.2.2\n"
	z, err := Parse(strings.NewReader(text), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	if rs := z.Node(wireName(t, "www.example.com.")).RRset(dns.TypeIPSECKEY); rs == nil || rs.Count != 2 {
		t.Errorf("IPSECKEY RRset %+v, want 2 records", rs)
	}
	for _, n := range []string{"next.example.com.", "last.example.com."} {
		if z.Node(wireName(t, n)) == nil {
			t.Errorf("%s missing", n)
		}
	}
}

// TestScanErrors: each rejected record or line gives a message naming
// the line and what is wrong.
func TestScanErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"64-octet label", scanHead + strings.Repeat("l", 64) + " A 192.0.2.1\n",
			`zone e.zone: line 5: bad domain name ` + strings.Repeat("l", 64) + `: label "llllllllllllllll..." is 64 octets long; a label has at most 63`},
		{"name over 255", scanHead + strings.Repeat("abcdefghi.", 25) + "x A 192.0.2.1\n", "zone e.zone: line 5: bad domain name"},
		{"unterminated string", scanHead + "www TXT \" \n", "zone e.zone: line 5: unterminated quoted string: the \" on this line is never closed"},
		{"unterminated string later", scanHead + "www TXT \"a\"\nx TXT \"b\n\ny A 192.0.2.1\n", "zone e.zone: line 6: unterminated quoted string: the \" on this line is never closed"},
		{"unclosed parenthesis", scanHead + "www TXT ( \"a\"\n\"b\"\n", "zone e.zone: line 5: unbalanced parenthesis: the ( on this line is never closed"},
		{"stray close", scanHead + "www TXT \"a\" )\n", "zone e.zone: line 5: unbalanced parenthesis: ) without an opening ("},
		{"non-TXT string over 255", scanHead + "www HINFO \"" + strings.Repeat("x", 256) + "\" os\n", "zone e.zone: line 5: bad HINFO record: string of 256 octets; a character string has at most 255"},
		{"A with leading zero", scanHead + "www A 192.0.2.01\n", "zone e.zone: line 5: bad A record: 192.0.2.01 is not an IPv4 address"},
		{"AAAA", scanHead + "www AAAA 2001:db8::1::2\n", "zone e.zone: line 5: bad AAAA record: 2001:db8::1::2 is not an IPv6 address"},
		{"missing field", scanHead + "www MX 10\n", "zone e.zone: line 5: bad MX record: missing domain name"},
		{"missing field, multi-line", scanHead + "www SOA ( ns hm\n 1 2 3\n 4 )\n", "zone e.zone: line 7: bad SOA record: missing a time in seconds"},
		{"bad algorithm", scanHead + "www DNSKEY 257 3 RSASHA257 AQID\n", "zone e.zone: line 5: bad DNSKEY record: RSASHA257 is not an algorithm number or mnemonic (such as 8 or RSASHA256)"},
		{"bad base64", scanHead + "www DNSKEY 257 3 8 AQI*\n", "zone e.zone: line 5: bad DNSKEY record: bad base64 data: illegal base64 data at input byte 3"},
		{"bad hex", scanHead + "www DS 1 8 2 abc\n", "zone e.zone: line 5: bad DS record: bad hex data: odd number of hex digits"},
		{"bad type in bitmap", scanHead + "www NSEC x.example.com. A BOGUS\n", "zone e.zone: line 5: bad NSEC record: BOGUS is not a record type"},
		{"generic length", scanHead + "www TYPE65280 \\# 3 0102\n", "zone e.zone: line 5: bad TYPE65280 record: \\# 3 announces 3 octets but 2 follow"},
		{"generic bad A", scanHead + "www A \\# 3 010203\n", "zone e.zone: line 5: bad A record: the \\# data is not a valid A record: rdata too short"},
		{"type without text", scanHead + "www NULL abc\n", "zone e.zone: line 5: bad NULL record: NULL has no text format here: give its rdata as \\# LENGTH HEX (RFC 3597)"},
		{"meta type", scanHead + "www TSIG hmac-sha256. 1 2 3\n", "zone e.zone: line 5: bad TSIG record: TSIG is a meta type (RFC 6895) and cannot be in a zone"},
		{"quoted owner", scanHead + "\"www\" A 192.0.2.1\n", "zone e.zone: line 5: a domain name cannot be quoted: www"},
		{"no owner yet", "$ORIGIN example.com.\n  A 192.0.2.1\n", "zone e.zone: line 2: this record has no owner name (its line starts with a blank, and no record came before it)"},
		{"two TTLs", scanHead + "www 1 2 A 192.0.2.1\n", "zone e.zone: line 5: 2: a second TTL (expected a class or a record type)"},
		{"bad TTL", scanHead + "www 1x A 192.0.2.1\n", `zone e.zone: line 5: bad TTL 1x: 'x' is not a unit (s, m, h, d, w)`},
		{"bad $TTL", "$TTL forever\n", `zone e.zone: line 1: bad $TTL forever: a unit without a number`},
		{"unknown directive", "$FOO bar\n", "zone e.zone: line 1: unknown directive $FOO (known: $ORIGIN, $TTL, $INCLUDE, $GENERATE)"},
		{"$ORIGIN without name", "$ORIGIN\n", "zone e.zone: line 1: $ORIGIN takes one domain name, got 0 words"},
		{"SVCB unknown key", scanHead + "www SVCB 1 . foo=bar\n", "zone e.zone: line 5: bad SVCB record: unknown service parameter key foo"},
		{"SVCB mandatory missing", scanHead + "www SVCB 1 . mandatory=port alpn=h2\n", "zone e.zone: line 5: bad SVCB record: mandatory lists port, which is not given"},
		{"SVCB twice", scanHead + "www SVCB 1 . port=1 port=2\n", "zone e.zone: line 5: bad SVCB record: service parameter port given twice"},
		{"LOC", scanHead + "www LOC 91 N 0 E 0m\n", "zone e.zone: line 5: bad LOC record: 91 is not degrees from 0 to 90"},
		{"escape", scanHead + "www TXT \"\\300\"\n", `zone e.zone: line 5: bad TXT record: "\\300" is not a character string: bad escape "\\300": above \255`},
		{"$GENERATE error line", scanHead + "\n$GENERATE 1-3 h$ A 10.0.0.${254}\n", "zone e.zone: line 6: bad A record: 10.0.0.256 is not an IPv4 address (in the record $GENERATE made for 2)"},
		{"$GENERATE range", scanHead + "$GENERATE 3-1 h$ A 10.0.0.$\n", "zone e.zone: line 5: bad $GENERATE range 3-1: expected start-stop with 0 <= start <= stop"},
		{"$GENERATE too many", scanHead + "$GENERATE 0-70000 h$ A 10.0.0.1\n", "zone e.zone: line 5: bad $GENERATE range 0-70000: more than 65536 records"},
		{"class in $GENERATE", scanHead + "$GENERATE 1-2 h$ CH A 10.0.0.$\n", "zone e.zone: line 5: class CH not supported (only IN) (in the record $GENERATE made for 1)"},
		{"rdata over 65535", scanHead + "www TXT" + strings.Repeat(" \""+strings.Repeat("x", 255)+"\"", 300) + "\n",
			"zone e.zone: line 5: bad TXT record: record data is 76800 octets long; at most 65535 fit"},
		{"include loop", "", ""}, // filled in below
	}
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.zone")
	if err := os.WriteFile(loop, []byte(scanHead+"$INCLUDE inc.zone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inc.zone"), []byte("; includes itself\n$INCLUDE inc.zone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			want := tt.want
			if tt.name == "include loop" {
				_, err = LoadFile(loop)
				want = "zone " + filepath.Join(dir, "inc.zone") + ": line 2: $INCLUDE nested more than 16 deep (an include loop?)"
			} else {
				_, err = Parse(strings.NewReader(tt.text), "e.zone", "")
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", want)
			}
			if got := err.Error(); got != want && !(strings.HasSuffix(tt.name, "over 255") && strings.HasPrefix(got, want)) {
				t.Errorf("error\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestNoOriginError(t *testing.T) {
	_, err := Parse(strings.NewReader("@ 300 SOA ns hm 1 2 3 4 5\n"), "o.zone", "")
	if !errors.Is(err, ErrNoOrigin) {
		t.Errorf("error %v does not wrap ErrNoOrigin", err)
	}
	_, err = Parse(strings.NewReader("example. 300 SOA ns hm 1 2 3 4 5\n"), "o.zone", "")
	if !errors.Is(err, ErrNoOrigin) {
		t.Errorf("error %v does not wrap ErrNoOrigin", err)
	}
	if _, err := Parse(strings.NewReader("@ 300 SOA ns hm 1 2 3 4 5\n@ NS ns\n"), "o.zone", "example."); err != nil {
		t.Errorf("with the origin given: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	text := "\xef\xbb\xbf" + scanHead + "www A 192.0.2.1\nwww 60 A 192.0.2.2\nt TXT \"" + strings.Repeat("x", 300) + "\"\n"
	z, err := Parse(strings.NewReader(text), "w.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	ws, n := z.Warnings(), z.WarningCount()
	var got []string
	for _, w := range ws {
		got = append(got, w.String())
	}
	want := []string{
		"zone w.zone: line 1: warning: byte order mark (U+FEFF) at the start of the file ignored; NSD and Knot DNS reject it",
		"zone w.zone: line 7: warning: TXT string of 300 octets split into strings of at most 255 (NSD rejects it: split it into several quoted strings)",
		"zone w.zone: line 6: warning: TTL 60 of this A record at www.example.com. differs from the TTL 300 of its RRset (line 5); the RRset is served with 300",
	}
	if n != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings (%d):\n%s\nwant:\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGenerate covers $GENERATE's modifiers, $TTL, and the owner it
// leaves for the next record.
func TestGenerate(t *testing.T) {
	text := scanHead + "$TTL 42\n$GENERATE 1-10/3 ${10,3,d}.h$ A 10.0.0.$\n$GENERATE 10-11 r${0,2,x} PTR host-\\$-${1,4,X}.\n$GENERATE 255-255 ${0,2,n}.ip6 PTR x\n  TXT \"same owner\"\n"
	z, err := Parse(strings.NewReader(text), "g.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, rec string }{
		{"011.h1.example.com.", "x. 42 IN A 10.0.0.1"},
		{"014.h4.example.com.", "x. 42 IN A 10.0.0.4"},
		{"020.h10.example.com.", "x. 42 IN A 10.0.0.10"},
		{"r0a.example.com.", "x. PTR host-$-000B."},
		{"r0b.example.com.", "x. PTR host-$-000C."},
		{"f.f.ip6.example.com.", "x. PTR x.example.com."},
		{"f.f.ip6.example.com.", "x. TXT \"same owner\""},
	} {
		rr, err := dns.NewRR(tt.rec)
		if err != nil {
			t.Fatal(err)
		}
		n := z.Node(wireName(t, tt.name))
		if n == nil || n.RRset(rr.Header().Rrtype) == nil {
			t.Errorf("%s %s missing", tt.name, dns.Type(rr.Header().Rrtype))
			continue
		}
		rs := n.RRset(rr.Header().Rrtype)
		if want := string(packRR(t, rr)); rdatas(rs)[0] != want || rs.TTL != 42 {
			t.Errorf("%s: rdata %x TTL %d, want %x TTL 42", tt.name, rdatas(rs)[0], rs.TTL, want)
		}
	}
	if z.Node(wireName(t, "017.h7.example.com.")) == nil || z.Node(wireName(t, "012.h2.example.com.")) != nil {
		t.Errorf("step 3 not honoured")
	}
}

// TestTTLDefaults: $TTL is the default and is not changed by explicit
// TTLs; without $TTL, the last explicit TTL carries (RFC 1035), and 3600
// before any.
func TestTTLDefaults(t *testing.T) {
	text := "$ORIGIN example.com.\na A 192.0.2.1\n@ 77 SOA ns hm 1 2 3 4 5\n@ NS ns\n$TTL 5\nb 99 A 192.0.2.2\nc A 192.0.2.3\n"
	z, err := Parse(strings.NewReader(text), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		typ  uint16
		ttl  uint32
	}{{"a.example.com.", dns.TypeA, 3600}, {"example.com.", dns.TypeNS, 77}, {"b.example.com.", dns.TypeA, 99}, {"c.example.com.", dns.TypeA, 5}} {
		if got := z.Node(wireName(t, tt.name)).RRset(tt.typ).TTL; got != tt.ttl {
			t.Errorf("%s %s TTL %d, want %d", tt.name, dns.Type(tt.typ), got, tt.ttl)
		}
	}
}

func TestParseIPv6(t *testing.T) {
	for _, s := range []string{"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "fe80::1:2",
		":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:", ":1", "1:2:3:4:5:6:7::8", "::1.2.3", "g::", "1.2.3.4", "::1.2.3.4:1", ""} {
		got, ok := parseIPv6([]byte(s))
		ip, err := netipParse(s)
		if ok != (err == nil) || ok && got != ip {
			t.Errorf("parseIPv6(%q) = %x, %v; net/netip: %x, %v", s, got, ok, ip, err)
		}
	}
}

// netipParse is the reference for parseIPv6: an IPv6 address without a
// zone.
func netipParse(s string) ([16]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return [16]byte{}, err
	}
	if !a.Is6() || a.Zone() != "" {
		return [16]byte{}, errors.New("not IPv6")
	}
	return a.As16(), nil
}

// FuzzAddr compares the address parsers with net/netip.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "01.2.3.4", "1::2::3", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got6, ok6 := parseIPv6([]byte(s))
		want6, err := netipParse(s)
		if ok6 != (err == nil) || ok6 && got6 != want6 {
			t.Fatalf("parseIPv6(%q) = %x, %v; net/netip %x, %v", s, got6, ok6, want6, err)
		}
		got4, ok4 := parseIPv4([]byte(s))
		a, err := netip.ParseAddr(s)
		want4 := err == nil && a.Is4()
		if ok4 != want4 || ok4 && got4 != a.As4() {
			t.Fatalf("parseIPv4(%q) = %v, %v; net/netip %v, %v", s, got4, ok4, a, err)
		}
	})
}

func TestNameErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"a..b", "empty label (two dots in a row, or a leading dot)"},
		{".a", "empty label (two dots in a row, or a leading dot)"},
		{"a\\4", `bad escape "\\4": \ and a digit must be \DDD, three decimal digits`},
		{"a\\256", `bad escape "\\256": above \255`},
		{"a\\", "backslash at the end of a word"},
	} {
		_, err := appendName(nil, []byte(tt.in), []byte{0})
		if err == nil || err.Error() != tt.want {
			t.Errorf("appendName(%q) error %v, want %s", tt.in, err, tt.want)
		}
	}
	got, err := appendName(nil, []byte(`a\.b\032c.\068`), []byte{0})
	if err != nil || fmt.Sprintf("%q", got) != `"\x05a.b c\x01D\x00"` {
		t.Errorf("escapes: %q, %v", got, err)
	}
}
