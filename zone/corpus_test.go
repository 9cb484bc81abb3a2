package zone

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// TestCorpusAgainstPeers loads every zone of testdata/corpus with tapdns,
// nsd-checkzone and kzonecheck and compares the verdicts: a zone both
// peers accept must load, and one both reject must fail, unless the file
// says otherwise ("; expect: accept|reject" with "; why:"), as it must
// when the peers disagree. For zones tapdns and NSD both load, the
// records must be the same: NSD's printout (nsd-checkzone -p) is read
// back and compared RRset by RRset.
//
// Each file starts with "; origin: NAME", given to all three. The tools
// run in the corpus directory, where NSD resolves $INCLUDE paths.
func TestCorpusAgainstPeers(t *testing.T) {
	labtest.RequireTools(t, "nsd-checkzone", "kzonecheck")
	dir, err := filepath.Abs("testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.zone"))
	if err != nil || len(files) < 40 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			h := corpusHeader(t, path)
			nsdOut, nsdOK := peerCheck(t, dir, "nsd-checkzone", "-p", strings.TrimSuffix(h.origin, "."), name)
			// DNSSEC consistency is not a loader's business (and the
			// corpus's keys and signatures are made up): -d off.
			knotOut, knotOK := peerCheck(t, dir, "kzonecheck", "-d", "off", "-o", h.origin, name)
			z, err := LoadFileOrigin(path, h.origin)
			ours := err == nil

			var want bool
			switch {
			case h.expect != "":
				want = h.expect == "accept"
				if h.why == "" {
					t.Errorf("%s: \"; expect:\" without \"; why:\"", name)
				}
				if nsdOK == knotOK && want == nsdOK {
					t.Errorf("%s: expect %s matches both peers: drop the annotation", name, h.expect)
				}
			case nsdOK != knotOK:
				t.Fatalf("NSD accepts: %v, Knot accepts: %v; annotate the file with \"; expect:\" and \"; why:\"\nNSD: %s\nKnot: %s",
					nsdOK, knotOK, lastLines(nsdOut), lastLines(knotOut))
			default:
				want = nsdOK
			}
			if ours != want {
				t.Fatalf("tapdns accepts: %v, want %v (NSD %v, Knot %v)\ntapdns: %v\nNSD: %s\nKnot: %s",
					ours, want, nsdOK, knotOK, err, lastLines(nsdOut), lastLines(knotOut))
			}
			if !ours {
				t.Logf("tapdns: %v", err)
				return
			}
			if nsdOK {
				compareWithNSD(t, z, nsdOut, h.origin)
			}
		})
	}
}

type corpusInfo struct{ origin, expect, why string }

func corpusHeader(t *testing.T, path string) corpusInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h corpusInfo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "\ufeff")
		if !strings.HasPrefix(line, ";") {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, ";")), ":")
		v = strings.TrimSpace(v)
		switch k {
		case "origin":
			h.origin = v
		case "expect":
			h.expect = v
		case "why":
			h.why = v
		}
	}
	if h.origin == "" || (h.expect != "" && h.expect != "accept" && h.expect != "reject") {
		t.Fatalf("%s: header needs \"; origin: NAME\" and at most \"; expect: accept|reject\"", path)
	}
	return h
}

// peerCheck runs a zone checker and reports its output and whether it
// accepted the zone (exit status 0).
func peerCheck(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s timed out", args[0])
	}
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("%s: %v", args[0], err)
	}
	return out.String(), err == nil
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	return strings.Join(lines, "\n")
}

// compareWithNSD reads NSD's printout of the zone and compares its
// RRsets with z's.
func compareWithNSD(t *testing.T, z *Zone, out, origin string) {
	t.Helper()
	var text strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "[") { // a log line: "[date] nsd-checkzone[pid]: warning: ..."
			continue
		}
		text.WriteString(l)
		text.WriteByte('\n')
	}
	nz, err := Parse(strings.NewReader(text.String()), "nsd-checkzone -p", origin)
	if err != nil {
		t.Fatalf("reading NSD's printout: %v\n%s", err, text.String())
	}
	type key struct {
		owner string
		typ   uint16
	}
	sets := func(z *Zone) map[key]map[string]bool {
		m := map[key]map[string]bool{}
		z.Walk(func(owner []byte, typ uint16, ttl uint32, rd []byte) bool {
			k := key{string(owner), typ}
			if m[k] == nil {
				m[k] = map[string]bool{}
			}
			// NSD prints names in rdata in the case it first saw
			// them anywhere: compare canonical forms.
			m[k][string(canonicalRdata(nil, typ, rd))] = true
			return true
		})
		return m
	}
	ours, nsd := sets(z), sets(nz)
	for k, w := range nsd {
		g := ours[k]
		if len(g) != len(w) {
			t.Errorf("%s %s: %d records, NSD %d", nameText(k.owner), TypeText(k.typ), len(g), len(w))
			continue
		}
		for rd := range w {
			if !g[rd] {
				t.Errorf("%s %s: NSD's rdata %x is not in the zone", nameText(k.owner), TypeText(k.typ), rd)
			}
		}
	}
	for k := range ours {
		if nsd[k] == nil {
			t.Errorf("%s %s: not in NSD's zone", nameText(k.owner), TypeText(k.typ))
		}
	}
}
