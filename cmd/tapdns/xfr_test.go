package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "k1:hmac-sha256:c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk="

func TestXfrFlags(t *testing.T) {
	base := []string{"--ip", "198.18.0.2"}
	c, err := parseConfig(append(base, "--tsig", testKey, "--allow-transfer", "198.18.0.0/24", "--allow-transfer", "key=k1",
		"--notify", "198.18.0.10", "--notify", "198.18.0.11:5353", "--secondary", "example.test.@198.18.0.1,key=k1",
		"--catalog", "catalog.@198.18.0.1:5300", "--allow-notify", "198.18.0.0/24", "--state-dir", t.TempDir()), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	x := c.xfr.xfr
	if !c.xfr.enabled || c.svc.TSIG.Len() != 1 || len(x.AllowTransfer) != 2 || len(x.AllowNotify) != 1 ||
		len(x.Secondaries) != 1 || len(x.Catalogs) != 1 || len(x.Notify) != 2 {
		t.Fatalf("parsed %+v", c.xfr)
	}
	// "Signed when a key is configured": the only key signs NOTIFY.
	for _, n := range x.Notify {
		if n.Key == nil || n.Key.NameText() != "k1." {
			t.Errorf("--notify %s: key %v, want k1.", n.Addr, n.Key)
		}
	}
	if got := x.Secondaries[0].String(); got != "example.test.@198.18.0.1:53,key=k1." {
		t.Errorf("--secondary = %s", got)
	}
	// No transfer flag: no xfr service, no keyring.
	c, err = parseConfig(base, io.Discard)
	if err != nil || c.xfr.enabled || c.svc.TSIG != nil {
		t.Errorf("without the flags: %+v %v", c.xfr, err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tsig", "k1:hmac-md5:c2VjcmV0"}, "--tsig"},
		{[]string{"--tsig", testKey, "--tsig", testKey}, "given twice"},
		{[]string{"--allow-transfer", "key=nokey"}, "no --tsig key"},
		{[]string{"--allow-transfer", "not-an-address"}, "--allow-transfer"},
		{[]string{"--allow-notify", "10.0.0.0/33"}, "--allow-notify"},
		{[]string{"--notify", "198.18.0.1,key=k9"}, "--notify"},
		{[]string{"--secondary", "example.test.@198.18.0.1", "--secondary", "example.test.@198.18.0.3"}, "already given"},
		{[]string{"--secondary", "example.test.@198.18.0.1", "--catalog", "example.test.@198.18.0.3"}, "already given"},
		{[]string{"--secondary", "example.test"}, "ZONE@ADDR"},
		{[]string{"--state-dir", "/tmp/x"}, "nothing to keep"},
	} {
		_, err := parseConfig(append(base, tt.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestCheckXfrFlags: tapdns check takes the transfer flags, refuses a zone
// that is both a file and a secondary, and loads what --state-dir holds.
func TestCheckXfrFlags(t *testing.T) {
	dir := t.TempDir()
	zf := filepath.Join(dir, "example.zone")
	zone := "$ORIGIN example.test.\n@ 300 IN SOA ns1 h 7 3600 600 86400 60\n@ 300 IN NS ns1\nns1 300 IN A 198.18.0.1\n"
	if err := os.WriteFile(zf, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := runCheck(args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("--zone", zf, "--tsig", testKey, "--allow-transfer", "key=k1", "--notify", "198.18.0.9"); code != exitOK {
		t.Errorf("check with transfer flags: %d\n%s", code, out)
	}
	if code, out := run("--zone", zf, "--secondary", "example.test.@198.18.0.1"); code != exitUsage || !strings.Contains(out, "both a --zone file") {
		t.Errorf("a zone both file and secondary: %d\n%s", code, out)
	}
	if code, out := run("--secondary", "other.test.@198.18.0.1", "--state-dir", state); code != exitOK || !strings.Contains(out, "nothing saved yet") {
		t.Errorf("nothing saved: %d\n%s", code, out)
	}
	// A saved copy (as a secondary writes it) is loaded and summarised.
	if err := os.WriteFile(filepath.Join(state, "example.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("--secondary", "example.test.@198.18.0.1", "--state-dir", state); code != exitOK || !strings.Contains(out, "serial 7") {
		t.Errorf("saved zone: %d\n%s", code, out)
	}
	if code, out := run("--allow-transfer", "key=k2"); code != exitUsage {
		t.Errorf("bad flag: %d\n%s", code, out)
	}
}
