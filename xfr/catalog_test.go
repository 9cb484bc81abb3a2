package xfr

import (
	"strings"
	"testing"
)

func TestParseCatalog(t *testing.T) {
	z := parseZone(t, "cat.", `$ORIGIN cat.
$TTL 0
@	IN SOA invalid. invalid. 1 3600 600 2147483646 0
	IN NS invalid.
version	IN TXT "2"
a1.zones	IN PTR one.example.
group.a1.zones	IN TXT "web"
a2.zones	IN PTR Two.Example.
coo.a2.zones	IN PTR other-cat.
x.ext.a2.zones	IN TXT "custom"
unknown.a2.zones	IN TXT "?"
dup.zones	IN PTR one.example.
two.zones	IN PTR three.example.
two.zones	IN PTR four.example.
stray	IN A 198.18.0.1
ext	IN TXT "catalog-wide custom"
`)
	members, notes, err := parseCatalog(z)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members {
		got = append(got, m.id+"="+nameText(m.zone))
	}
	// Canonical order of ids: a1, a2, dup, two; dup repeats one.example.
	// and two has two PTRs: both ignored.
	if want := "a1=one.example. a2=two.example."; strings.Join(got, " ") != want {
		t.Errorf("members %v, want %s", got, want)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"group property of member a1", "coo property of member a2", "custom property", "unknown property", "listed twice", "has 2 PTR records", "ignored record: stray.cat."} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}

	for _, tt := range []struct {
		name, version string
	}{
		{"no version", ""},
		{"version 1", `version IN TXT "1"`},
	} {
		z := parseZone(t, "cat.", "$ORIGIN cat.\n@ 0 IN SOA invalid. invalid. 1 3600 600 2147483646 0\n@ 0 IN NS invalid.\n"+tt.version+"\na.zones 0 IN PTR one.example.\n")
		if _, _, err := parseCatalog(z); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
