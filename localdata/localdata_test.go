package localdata

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnswire"
)

func wire(t testing.TB, s string) []byte {
	t.Helper()
	b := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(s)), b, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

// records decodes Records (owner 0xC00C) into "TYPE rdata" strings.
func records(t *testing.T, r Records) []string {
	t.Helper()
	// A message with the question "q." at offset 12 for the pointers.
	msg := []byte{0, 0, 0x84, 0, 0, 1, byte(r.Count >> 8), byte(r.Count), 0, 0, 0, 0, 1, 'q', 0, 0, 1, 0, 1}
	msg = append(msg, r.Data...)
	var m dns.Msg
	if err := m.Unpack(msg); err != nil {
		t.Fatalf("records do not parse: %v", err)
	}
	var out []string
	for _, rr := range m.Answer {
		if rr.Header().Name != "q." || rr.Header().Ttl != TTL || rr.Header().Class != dns.ClassINET {
			t.Errorf("header %v", rr.Header())
		}
		out = append(out, dns.TypeToString[rr.Header().Rrtype]+" "+strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	return out
}

const hostsFile = `# a hosts file
127.0.0.1	localhost
198.18.0.10	printer.lab printer   # the printer
2001:2::10	printer.lab
198.18.0.11	nas.lab
198.18.0.12	www.example.com
fe80::1%eth0	linklocal.lab
198.18.0.10	printer-alias.lab
`

func build(t *testing.T, overrides []string, hosts, block string) *Data {
	t.Helper()
	var b Builder
	for _, o := range overrides {
		if err := b.AddOverride(o); err != nil {
			t.Fatal(err)
		}
	}
	if hosts != "" {
		if err := b.AddHosts(strings.NewReader(hosts), "hosts"); err != nil {
			t.Fatal(err)
		}
	}
	if block != "" {
		if err := b.AddBlock(strings.NewReader(block), "block"); err != nil {
			t.Fatal(err)
		}
	}
	d, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLookup(t *testing.T) {
	d := build(t, []string{"nas.lab=198.18.0.99", "ovr.lab=2001:2::99", "ovr.lab=198.18.0.98"}, hostsFile,
		"ads.example\n0.0.0.0 tracker.example other.example # two\n*.wild.example\nwww.example.com\n")
	tests := []struct {
		name  string
		qtype uint16
		want  Result
		recs  []string
	}{
		{"printer.lab", dnswire.TypeA, Answer, []string{"A 198.18.0.10"}},
		{"PRINTER.lab", dnswire.TypeA, Answer, []string{"A 198.18.0.10"}},
		{"printer.lab", dnswire.TypeAAAA, Answer, []string{"AAAA 2001:2::10"}},
		{"printer.lab", dnswire.TypeANY, Answer, []string{"A 198.18.0.10", "AAAA 2001:2::10"}},
		{"printer.lab", dnswire.TypeMX, NoData, nil},
		{"printer", dnswire.TypeA, Answer, []string{"A 198.18.0.10"}},
		{"printer-alias.lab", dnswire.TypeA, Answer, []string{"A 198.18.0.10"}},
		{"nas.lab", dnswire.TypeA, Answer, []string{"A 198.18.0.99"}}, // the override wins
		{"nas.lab", dnswire.TypeAAAA, NoData, nil},
		{"ovr.lab", dnswire.TypeA, Answer, []string{"A 198.18.0.98"}},
		{"ovr.lab", dnswire.TypeAAAA, Answer, []string{"AAAA 2001:2::99"}},
		{"localhost", dnswire.TypeA, Answer, []string{"A 127.0.0.1"}},
		{"10.0.18.198.in-addr.arpa", dnswire.TypePTR, Answer, []string{"PTR printer.lab."}},
		{"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.2.ip6.arpa", dnswire.TypePTR, Answer, []string{"PTR printer.lab."}},
		{"11.0.18.198.in-addr.arpa", dnswire.TypePTR, Miss, nil}, // nas.lab is overridden
		{"10.0.18.198.in-addr.arpa", dnswire.TypeA, NoData, nil},
		{"linklocal.lab", dnswire.TypeA, Miss, nil},
		{"ads.example", dnswire.TypeA, Blocked, nil},
		{"deep.sub.ads.example", dnswire.TypeAAAA, Blocked, nil},
		{"tracker.example", dnswire.TypeTXT, Blocked, nil},
		{"other.example", dnswire.TypeA, Blocked, nil},
		{"x.wild.example", dnswire.TypeA, Blocked, nil},
		{"wild.example", dnswire.TypeA, Blocked, nil},
		{"example", dnswire.TypeA, Miss, nil},
		{"notads.example", dnswire.TypeA, Miss, nil},
		{"www.example.com", dnswire.TypeA, Answer, []string{"A 198.18.0.12"}}, // local data beats the block list
		{"sub.www.example.com", dnswire.TypeA, Blocked, nil},
		{"unknown.lab", dnswire.TypeA, Miss, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			got, recs := d.Lookup(wire(t, tc.name), tc.qtype)
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if got == Answer {
				if r := records(t, recs); strings.Join(r, "|") != strings.Join(tc.recs, "|") {
					t.Errorf("records %q, want %q", r, tc.recs)
				}
			}
		})
	}
	var nilData *Data
	if got, _ := nilData.Lookup(wire(t, "x"), dnswire.TypeA); got != Miss {
		t.Errorf("nil Data: %v", got)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	d := build(t, nil, hostsFile, "ads.example\n")
	for _, n := range []string{"printer.lab", "a.b.c.ads.example", "nothing.here.example"} {
		q := wire(t, n)
		if allocs := testing.AllocsPerRun(100, func() { d.Lookup(q, dnswire.TypeA) }); allocs != 0 {
			t.Errorf("Lookup(%s): %v allocations, want 0", n, allocs)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		kind, in, want string
	}{
		{"override", "nas.lab", "want NAME=ADDR"},
		{"override", "nas.lab=1.2.3", "not an IPv4 or IPv6 address"},
		{"override", "bad..name=1.2.3.4", "empty label"},
		{"override", strings.Repeat("a", 64) + ".lab=1.2.3.4", "is 64 octets long; a label has at most 63"},
		{"hosts", "198.18.0.1\n", "hosts: line 1: want an address and at least one name"},
		{"hosts", "\n\nprinter 198.18.0.1\n", "hosts: line 3: \"printer\" is not an IPv4 or IPv6 address"},
		{"hosts", "198.18.0.1 bad\"name\n", "hosts: line 1: name"},
		{"block", "0.0.0.0\n", "block: line 1: an address without a name"},
		{"block", ".\n", "block: line 1: the root cannot be blocked"},
		{"block", "a..b\n", "block: line 1: name \"a..b\": empty label"},
	}
	for _, tc := range tests {
		var b Builder
		var err error
		switch tc.kind {
		case "override":
			err = b.AddOverride(tc.in)
		case "hosts":
			err = b.AddHosts(strings.NewReader(tc.in), "hosts")
		case "block":
			err = b.AddBlock(strings.NewReader(tc.in), "block")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want one containing %q", tc.kind, tc.in, err, tc.want)
		}
	}
	var b Builder
	if err := b.AddHostsFile("/nonexistent/hosts"); err == nil || !strings.Contains(err.Error(), "--hosts") {
		t.Errorf("missing hosts file: %v", err)
	}
}

func FuzzHostsAndBlock(f *testing.F) {
	f.Add(hostsFile, "ads.example\n0.0.0.0 a b\n*.c\n")
	f.Add("::1 x\n", "#\n")
	f.Fuzz(func(t *testing.T, hosts, block string) {
		var b Builder
		_ = b.AddHosts(strings.NewReader(hosts), "hosts")
		_ = b.AddBlock(strings.NewReader(block), "block")
		d, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		// Every answer parses as records of its name.
		for n := range d.names {
			for _, qt := range []uint16{dnswire.TypeA, dnswire.TypeAAAA, dnswire.TypeANY, dnswire.TypePTR} {
				if res, r := d.Lookup([]byte(n), qt); res == Answer {
					msg := []byte{0, 0, 0x84, 0, 0, 1, byte(r.Count >> 8), byte(r.Count), 0, 0, 0, 0, 1, 'q', 0, 0, 1, 0, 1}
					var m dns.Msg
					if err := m.Unpack(append(msg, r.Data...)); err != nil || r.Count == 0 || len(m.Answer) != int(r.Count) {
						t.Fatalf("%x type %d: records %x do not parse (%v)", n, qt, r.Data, err)
					}
				}
			}
		}
	})
}
