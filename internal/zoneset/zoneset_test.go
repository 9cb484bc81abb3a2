package zoneset

import (
	"context"
	"fmt"
	"log/slog"
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

// watch runs m.Watch, polling every 10 ms with a 50 ms debounce, until
// the test ends.
func watch(t *testing.T, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Watch(ctx, 10*time.Millisecond, 50*time.Millisecond)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// oneZone starts a manager on one zone file, a.test. at serial 1, and
// returns it with the file's path and the record of installs.
func oneZone(t *testing.T) (*Manager, string, *installed) {
	t.Helper()
	a := filepath.Join(t.TempDir(), "a.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10"))
	inst := &installed{}
	m, err := New([]string{a}, nil, inst.install, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, a, inst
}

func TestWatch(t *testing.T) {
	m, a, _ := oneZone(t)
	watch(t, m)
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

func TestParseSource(t *testing.T) {
	for _, tt := range []struct {
		arg          string
		file, origin string
		err          string
	}{
		{arg: "db.example", file: "db.example"},
		{arg: "example.com.=db.example", file: "db.example", origin: "example.com."},
		{arg: "example.com=zones/db.example", file: "zones/db.example", origin: "example.com"},
		{arg: "./a=b.zone", file: "./a=b.zone"},
		{arg: "dir/x=y", file: "dir/x=y"},
		{arg: "example.com=a=b", file: "a=b", origin: "example.com"},
		{arg: "", err: "empty file name"},
		{arg: "example.com=", err: `"example.com=": no file after "example.com=" (give ORIGIN=FILE)`},
		{arg: "=db", err: `"=db": empty origin before '=' (give ORIGIN=FILE)`},
		{arg: "a..b=db", err: `"a..b=db": bad origin "a..b": empty label (two dots in a row, or a leading dot)`},
	} {
		src, err := ParseSource(tt.arg)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseSource(%q) error %v, want %s", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || src.File != tt.file || src.Origin != tt.origin {
			t.Errorf("ParseSource(%q) = %+v, %v; want file %q origin %q", tt.arg, src, err, tt.file, tt.origin)
		}
	}
}

func TestLoadOrigin(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "db.example")
	write(t, f, "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.2\n")
	_, err := Load(f)
	want := "zone " + f + ": line 2: relative name @, but no origin is known: put $ORIGIN before this line or give the zone's origin (--zone ORIGIN=FILE, such as --zone example.com.=" + f + ")"
	if err == nil || err.Error() != want {
		t.Errorf("Load without origin:\n got: %v\nwant: %s", err, want)
	}
	z, err := Load("Example.=" + f)
	if err != nil {
		t.Fatalf("Load with origin: %v", err)
	}
	if zone.NameText(z.Origin) != "example." {
		t.Errorf("origin %s, want example.", zone.NameText(z.Origin))
	}
}

// logBuffer collects log lines for tests.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

func TestReloadLogsAndSkips(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.zone"), filepath.Join(dir, "b.zone")
	inc := filepath.Join(dir, "inc.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10"))
	write(t, b, zoneText("b.test.", 1, "198.18.0.11")+"$INCLUDE inc.zone\n")
	write(t, inc, "inc A 198.18.0.12\n")
	var logs logBuffer
	loads := map[string]int{}
	var mu sync.Mutex
	load := func(arg string) (*zone.Zone, error) {
		mu.Lock()
		loads[arg]++
		mu.Unlock()
		return Load(arg)
	}
	m, err := New([]string{a, b}, load, nil, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	logs.take()

	// Nothing changed: nothing is read again.
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if loads[a] != 1 || loads[b] != 1 {
		t.Errorf("loads after an unchanged reload: %v, want one each", loads)
	}
	if l := logs.take(); !strings.Contains(l, `msg="zones reloaded" zones=2 reloaded=0 unchanged=2`) {
		t.Errorf("log:\n%s", l)
	}

	// An included file changes: its zone is reloaded; the serial did not
	// move, which is worth a warning.
	write(t, inc, "inc A 198.18.0.13\n")
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	l := logs.take()
	if loads[a] != 1 || loads[b] != 2 {
		t.Errorf("loads after an include changed: %v, want a once and b twice", loads)
	}
	if !strings.Contains(l, `level=WARN msg="zone file changed but its SOA serial did not; secondaries will not see the change" zone=b.test. file=`+b+` serial=1`) {
		t.Errorf("log:\n%s", l)
	}

	// A serial change is logged old -> new.
	write(t, a, zoneText("a.test.", 2, "198.18.0.10"))
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if l := logs.take(); !strings.Contains(l, `level=INFO msg="zone reloaded" zone=a.test. file=`+a+` serial="1 -> 2" records=4`) {
		t.Errorf("log:\n%s", l)
	}

	// A failure is a WARN naming the zone and the reason.
	write(t, a, zoneText("a.test.", 3, "198.18.0.300"))
	if err := m.Reload(); err == nil {
		t.Fatal("bad reload succeeded")
	}
	l = logs.take()
	for _, want := range []string{
		`level=WARN msg="zone reload failed; the old version stays in service" zone=a.test. file=` + a + ` serial=2 err="zone ` + a + `: line 6: bad A record: 198.18.0.300 is not an IPv4 address"`,
		`level=WARN msg="zones reloaded with failures" zones=2 reloaded=0 failed=1 failed_zones=[a.test.]`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks\n%s\nin:\n%s", want, l)
		}
	}

	// The file now holds another zone.
	write(t, a, zoneText("c.test.", 1, "198.18.0.10"))
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if l := logs.take(); !strings.Contains(l, `level=WARN msg="zone file now holds another zone; the old zone is no longer served" file=`+a+` old_zone=a.test. new_zone=c.test. serial=1`) {
		t.Errorf("log:\n%s", l)
	}
	if got := fmt.Sprint(serials(m.Set())); got != "map[b.test.:1 c.test.:1]" {
		t.Errorf("serials %s", got)
	}
}

func TestWarningsLogged(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10")+"www 60 A 198.18.0.20\n")
	var logs logBuffer
	if _, err := New([]string{a}, nil, nil, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="zone ` + a + `: line 7: warning: TTL 60 of this A record at www.a.test. differs from the TTL 300 of its RRset (line 6); the RRset is served with 300" zone=a.test.`
	if l := logs.take(); !strings.Contains(l, want) {
		t.Errorf("log:\n%s\nwant:\n%s", l, want)
	}
}

func TestWatchInclude(t *testing.T) {
	dir := t.TempDir()
	a, inc := filepath.Join(dir, "a.zone"), filepath.Join(dir, "inc.zone")
	write(t, a, zoneText("a.test.", 1, "198.18.0.10")+"$INCLUDE inc.zone\n")
	write(t, inc, "inc A 198.18.0.12\n")
	m, err := New([]string{a}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, m)
	write(t, inc, "inc A 198.18.0.12\ninc2 A 198.18.0.13\n")
	deadline := time.Now().Add(5 * time.Second)
	for m.Set().Zones()[0].Node([]byte("\x04inc2\x01a\x04test\x00")) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the change of an included file was not picked up (stats %+v)", m.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadUnchangedKeepsSet checks that a reload finding every file
// unchanged installs nothing: the set in service (and the server's answer
// cache built on it) stays, and the reload still counts as a good one.
func TestReloadUnchangedKeepsSet(t *testing.T) {
	m, a, inst := oneZone(t)
	before := m.Set()
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := inst.count(); got != 1 {
		t.Errorf("installs after an unchanged reload = %d, want 1 (the first)", got)
	}
	if m.Set() != before {
		t.Errorf("an unchanged reload replaced the set")
	}
	if st := m.Stats(); st.Reloads != 1 || !st.LastOK {
		t.Errorf("stats = %+v, want 1 reload, LastOK", st)
	}
	// A change after that is installed as usual.
	write(t, a, zoneText("a.test.", 2, "198.18.0.10"))
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := inst.count(); got != 2 {
		t.Errorf("installs after a change = %d, want 2", got)
	}
}
