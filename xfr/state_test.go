package xfr

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// TestStateRoundTrip: a zone and its journal written to the state
// directory load back the same, and damage is detected.
func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	zones := randomVersions(t, rand.New(rand.NewPCG(5, 6)), 4)
	var j *Journal
	for i := 1; i < len(zones); i++ {
		j = j.With(zoneDiff(zones[i-1], zones[i]), 0, 0)
	}
	last := zones[len(zones)-1]
	origin := []byte(last.Origin)
	base := stateBase(dir, origin)
	if err := writeZoneFile(base+".zone", last); err != nil {
		t.Fatal(err)
	}
	if err := writeJournalFile(base+".journal", j); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	if err := writeMetaFile(base+".meta", stateMeta{Zone: "example.", Serial: last.Serial, LastOK: now}); err != nil {
		t.Fatal(err)
	}
	saved, errs := loadState(dir, origin)
	if len(errs) > 0 || saved == nil {
		t.Fatalf("loadState: %v %v", saved, errs)
	}
	sameZone(t, saved.z, last)
	if !saved.metaOK || !saved.meta.LastOK.Equal(now) {
		t.Errorf("meta %+v ok %v", saved.meta, saved.metaOK)
	}
	if saved.journal.Len() != j.Len() {
		t.Fatalf("journal of %d differences, want %d", saved.journal.Len(), j.Len())
	}
	// The journal read back still leads from the first version to the last.
	got, err := applyDiffs(zones[0], "test", saved.journal.Since(zones[0].Serial))
	if err != nil {
		t.Fatal(err)
	}
	sameZone(t, got, last)

	// Damage: one flipped octet in the journal, a meta for another serial.
	data, _ := os.ReadFile(base + ".journal")
	data[len(data)/2] ^= 1
	os.WriteFile(base+".journal", data, 0o644)
	writeMetaFile(base+".meta", stateMeta{Serial: last.Serial + 1})
	saved, errs = loadState(dir, origin)
	if saved == nil || saved.journal != nil || saved.metaOK {
		t.Errorf("damaged journal and stale meta: %+v", saved)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "checksum") {
		t.Errorf("errors %v, want the checksum", errs)
	}
	// A zone file of another zone is refused.
	if err := writeZoneFile(stateBase(dir, []byte("\x05other\x00"))+".zone", last); err != nil {
		t.Fatal(err)
	}
	if _, errs := loadState(dir, []byte("\x05other\x00")); len(errs) == 0 {
		t.Error("a zone file of another zone loaded")
	}
	// Nothing saved: no error.
	if saved, errs := loadState(dir, []byte("\x04none\x00")); saved != nil || errs != nil {
		t.Errorf("nothing saved: %v %v", saved, errs)
	}
}

func TestStateBase(t *testing.T) {
	for in, want := range map[string]string{
		"\x07example\x03com\x00": "example.com",
		"\x00":                   "%2E",
		"\x04root\x00":           "root",
		"\x03a/b\x00":            "a%2Fb",
		"\x02..\x00":             "%5C.%5C.",
	} {
		if got := filepath.Base(stateBase("/s", []byte(in))); got != want {
			t.Errorf("stateBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestZoneFileExact: the zone file written for a secondary loads back to
// the same records, escapes and unknown types included.
func TestZoneFileExact(t *testing.T) {
	z := exampleZone(t, 9, `weird\.label IN TXT "a;b" "c\"d"`, `upper IN CNAME Www.Example.`, `unk IN TYPE65280 \# 2 abcd`)
	path := filepath.Join(t.TempDir(), "z.zone")
	if err := writeZoneFile(path, z); err != nil {
		t.Fatal(err)
	}
	back, err := zone.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameZone(t, back, z)
}

func TestParseRuleAndRemote(t *testing.T) {
	k, _ := tsig.ParseKey("k1:hmac-sha256:" + testSecret)
	ring, _ := tsig.NewKeyring(k)
	for _, tt := range []struct {
		in   string
		want string
		err  bool
	}{
		{"198.18.0.0/15", "198.18.0.0/15", false},
		{"198.18.0.7", "198.18.0.7/32", false},
		{"2001:db8::/32", "2001:db8::/32", false},
		{"key=k1", "key=k1.", false},
		{"key=K1.", "key=k1.", false},
		{"key=nope", "", true},
		{"198.18.0.0/33", "", true},
		{"fe80::1%eth0", "", true},
	} {
		r, err := ParseRule(tt.in, ring)
		if (err != nil) != tt.err || err == nil && r.String() != tt.want {
			t.Errorf("ParseRule(%q) = %v, %v; want %q (error %v)", tt.in, r, err, tt.want, tt.err)
		}
	}
	for _, tt := range []struct {
		in       string
		withZone bool
		want     string
		err      bool
	}{
		{"example.@198.18.0.1", true, "example.@198.18.0.1:53", false},
		{"Example.COM@198.18.0.1:5353,key=k1", true, "example.com.@198.18.0.1:5353,key=k1.", false},
		{"example@[2001:db8::1]:5353", true, "example.@[2001:db8::1]:5353", false},
		{"example@2001:db8::1", true, "example.@[2001:db8::1]:53", false},
		{"198.18.0.9", false, "198.18.0.9:53", false},
		{"198.18.0.9:54,key=k1", false, "198.18.0.9:54,key=k1.", false},
		{"example", true, "", true},
		{"example@198.18.0.1,key=none", true, "", true},
		{"example@198.18.0.1,tls", true, "", true},
		{"example@0.0.0.0", true, "", true},
		{"example@198.18.0.1:0", true, "", true},
		{"ex..ample@198.18.0.1", true, "", true},
	} {
		r, err := ParseRemote(tt.in, tt.withZone, ring)
		if (err != nil) != tt.err || err == nil && r.String() != tt.want {
			t.Errorf("ParseRemote(%q) = %v, %v; want %q (error %v)", tt.in, r, err, tt.want, tt.err)
		}
	}
}
