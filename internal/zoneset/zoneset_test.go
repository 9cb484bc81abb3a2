package zoneset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/zone"
)

func zoneText(origin string, serial uint32, addr string) string {
	return fmt.Sprintf(`$ORIGIN %s
$TTL 300
@    IN SOA ns1 hostmaster %d 7200 3600 1209600 300
     IN NS  ns1
ns1  IN A   198.18.0.2
www  IN A   %s
`, origin, serial, addr)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// installed records every set installed.
type installed struct {
	mu   sync.Mutex
	sets []*zone.Set
}

func (i *installed) install(s *zone.Set) {
	i.mu.Lock()
	i.sets = append(i.sets, s)
	i.mu.Unlock()
}

func (i *installed) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.sets)
}

func serials(s *zone.Set) map[string]uint32 {
	m := map[string]uint32{}
	for _, z := range s.Zones() {
		m[zone.NameText(z.Origin)] = z.Serial
	}
	return m
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.zone"), filepath.Join(dir, "b.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10"))
	write(t, b, zoneText("b.test.", 1, "198.18.0.11"))
	var inst installed
	m, err := New([]string{a, b}, nil, inst.install, nil)
	if err != nil {
		t.Fatal(err)
	}
	if inst.count() != 1 || !m.Stats().LastOK {
		t.Fatalf("after New: %d installs, stats %+v; want 1 and LastOK", inst.count(), m.Stats())
	}

	// Both change: both new.
	write(t, a, zoneText("a.test.", 2, "198.18.0.10"))
	write(t, b, zoneText("b.test.", 2, "198.18.0.11"))
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := fmt.Sprint(serials(m.Set())); got != "map[a.test.:2 b.test.:2]" {
		t.Errorf("serials after good reload = %s", got)
	}

	// b breaks: a moves on, b keeps serial 2, the failure is counted and
	// reported with file and line.
	write(t, a, zoneText("a.test.", 3, "198.18.0.10"))
	write(t, b, zoneText("b.test.", 3, "198.18.0.300"))
	err = m.Reload()
	if err == nil || !strings.Contains(err.Error(), "zone "+b+": line 6:") {
		t.Errorf("Reload with a bad b = %v, want an error naming %s line 6", err, b)
	}
	if got := fmt.Sprint(serials(m.Set())); got != "map[a.test.:3 b.test.:2]" {
		t.Errorf("serials after partial reload = %s, want a.test.:3 b.test.:2", got)
	}
	st := m.Stats()
	if st.Reloads != 2 || st.ReloadFailures != 1 || st.FileFailures != 1 || st.LastOK || st.LastError == "" || st.LastReload.IsZero() {
		t.Errorf("stats = %+v, want 2 reloads, 1 failed, 1 file, LastOK false with an error", st)
	}
	if inst.count() != 3 {
		t.Errorf("%d installs, want 3", inst.count())
	}

	// b now claims a's origin: the set cannot be built, everything stays.
	write(t, b, zoneText("a.test.", 9, "198.18.0.11"))
	if err := m.Reload(); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("Reload with a duplicate origin = %v, want 'defined twice'", err)
	}
	if got := fmt.Sprint(serials(m.Set())); got != "map[a.test.:3 b.test.:2]" {
		t.Errorf("serials after failed set = %s", got)
	}
	if inst.count() != 3 {
		t.Errorf("a failed set was installed (%d installs)", inst.count())
	}

	// A deleted file fails the same way.
	os.Remove(b)
	if err := m.Reload(); err == nil {
		t.Error("Reload with a missing file succeeded")
	}
	write(t, b, zoneText("b.test.", 4, "198.18.0.11"))
	if err := m.Reload(); err != nil {
		t.Errorf("Reload after repair: %v", err)
	}
	if st := m.Stats(); !st.LastOK || st.LastError != "" {
		t.Errorf("stats after repair = %+v, want LastOK", st)
	}
}

func TestNewStrict(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, zoneText("a.test.", 1, "bad"))
	var inst installed
	if _, err := New([]string{a}, nil, inst.install, nil); err == nil || inst.count() != 0 {
		t.Errorf("New with a bad zone: err %v, %d installs; want an error and none", err, inst.count())
	}
	if _, err := New(nil, nil, nil, nil); err == nil {
		t.Error("New without files succeeded")
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10"))
	var inst installed
	m, err := New([]string{a}, nil, inst.install, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Watch(ctx, 10*time.Millisecond, 50*time.Millisecond)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (stats %+v)", what, m.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	write(t, a, zoneText("a.test.", 2, "198.18.0.10"))
	waitFor("serial 2", func() bool { return serials(m.Set())["a.test."] == 2 })

	// Touching without changing the content does not reload.
	before := m.Stats().Reloads
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(a, future, future); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // several polls and a debounce
	if got := m.Stats().Reloads; got != before {
		t.Errorf("touch caused %d reloads", got-before)
	}

	// A bad edit is reported and the old zone stays.
	write(t, a, zoneText("a.test.", 3, "x"))
	waitFor("a failed reload", func() bool { return m.Stats().FileFailures == 1 })
	if s := serials(m.Set())["a.test."]; s != 2 {
		t.Errorf("serial after bad edit = %d, want 2", s)
	}
}

func TestWatchIntervalBounds(t *testing.T) {
	// Watch with a zero interval must not spin: it is clamped; a cancelled
	// context ends it at once.
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10"))
	m, err := New([]string{a}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.Watch(ctx, 0, 0)
	m.Wait()
}

func TestSummary(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, zoneText("a.test.", 7, "198.18.0.10"))
	z, err := zone.LoadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Summary(z), "zone "+a+": origin a.test. serial 7 records 4"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}
