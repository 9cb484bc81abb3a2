package peerconf

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapdns/tapdns/internal/labtest"
)

const zoneText = "$ORIGIN example.\n$TTL 300\n@ SOA ns host 1 3600 600 86400 300\n@ NS ns\nns A 198.18.0.2\n"

var (
	v4  = netip.MustParseAddrPort("127.0.0.1:5301")
	v6  = netip.MustParseAddrPort("[::1]:5301")
	key = Key{Name: "xfr-key", Algorithm: "hmac-sha256", Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}
)

// check writes conf into dir (with the zone file example.zone) and runs
// the server's own checker on it: nothing is started, nothing is sent.
func check(t *testing.T, dir, name, conf string, checker ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "example.zone"), []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(checker[1:len(checker):len(checker)], path)
	if checker[0] == "knotc" {
		args = []string{"-c", path, "conf-check"}
	}
	if out, err := exec.Command(checker[0], args...).CombinedOutput(); err != nil {
		t.Errorf("%s rejects\n%s\n%v: %s", checker[0], conf, err, out)
	}
}

func TestNSD(t *testing.T) {
	labtest.RequireTools(t, "nsd-checkconf")
	for _, tt := range []struct {
		name string
		conf NSD
		want []string
	}{
		{"authoritative", NSD{Listen: []netip.AddrPort{v4, v6}, Server: []string{"verbosity: 1", "rrl-ratelimit: 0"},
			Zones: []Zone{{Name: "example.", File: "example.zone"}}},
			[]string{"  ip-address: 127.0.0.1@5301\n  ip-address: ::1@5301\n", "  rrl-ratelimit: 0\n", "zone:\n  name: \"example.\"\n  zonefile: \"example.zone\"\n"}},
		{"primary with a key", NSD{Listen: []netip.AddrPort{v4}, Server: []string{"do-ip6: no"}, Keys: []Key{key},
			Zones: []Zone{{Name: "example.", File: "example.zone", Options: []string{"provide-xfr: 127.0.0.0/8 xfr-key", "notify: 127.0.0.1@5300 xfr-key"}}}},
			[]string{"key:\n  name: \"xfr-key\"\n  algorithm: hmac-sha256\n", "  zonefile: \"example.zone\"\n  provide-xfr: 127.0.0.0/8 xfr-key\n  notify: 127.0.0.1@5300 xfr-key\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.conf.Dir = dir
			conf := tt.conf.String()
			for _, w := range append(tt.want, "  zonesdir: \""+dir+"\"\n", "  pidfile: \""+dir+"/nsd.pid\"\n", "remote-control:\n  control-enable: no\n") {
				if !strings.Contains(conf, w) {
					t.Errorf("nsd.conf\n%s\nhas no %q", conf, w)
				}
			}
			check(t, dir, "nsd.conf", conf, "nsd-checkconf")
		})
	}
}

func TestKnot(t *testing.T) {
	labtest.RequireTools(t, "knotc")
	for _, tt := range []struct {
		name string
		conf Knot
		want []string
	}{
		{"authoritative", Knot{Listen: []netip.AddrPort{v4, v6}, Server: []string{"udp-workers: 1", "identity: \"x\""},
			Zones: []Zone{{Name: "example.", File: "example.zone"}}},
			[]string{"  listen: [ 127.0.0.1@5301, ::1@5301 ]\n", "  identity: \"x\"\n", "    any: notice\n",
				"    zonefile-load: whole\n    journal-content: none\n", "  - domain: \"example.\"\n    file: \"example.zone\"\n"}},
		{"primary with a key and a control socket", Knot{Listen: []netip.AddrPort{v4}, Control: true, LogLevel: "info", Keys: []Key{key},
			Clauses:  "acl:\n  - id: xfr\n    address: 127.0.0.0/8\n    key: xfr-key\n    action: transfer\n",
			Template: []string{"zonefile-sync: -1", "journal-content: changes"},
			Zones:    []Zone{{Name: "example.", File: "example.zone", Options: []string{"acl: xfr"}}}},
			[]string{"control:\n  listen: \"", "    any: info\n", "key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n",
				"acl:\n  - id: xfr\n", "    zonefile-sync: -1\n    journal-content: changes\nzone:\n", "    file: \"example.zone\"\n    acl: xfr\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.conf.Dir = dir
			conf := tt.conf.String()
			for _, w := range append(tt.want, "  rundir: \""+dir+"\"\n", "  pidfile: \""+dir+"/knot.pid\"\n") {
				if !strings.Contains(conf, w) {
					t.Errorf("knot.conf\n%s\nhas no %q", conf, w)
				}
			}
			if tt.conf.Control && !strings.Contains(conf, tt.conf.ControlSocket()) {
				t.Errorf("knot.conf\n%s\nhas no control socket %s", conf, tt.conf.ControlSocket())
			}
			check(t, dir, "knot.conf", conf, "knotc")
		})
	}
}
