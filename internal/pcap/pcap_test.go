package pcap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
	"github.com/tapdns/tapdns/internal/pcap/pcaptest"
)

// frame returns a minimal Ethernet frame of n bytes whose payload bytes
// are all b.
func frame(n int, b byte) []byte {
	f := bytes.Repeat([]byte{b}, n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}) // local experimental EtherType
	return f
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 123456000)
	frames := [][]byte{frame(14, 1), frame(60, 2), frame(1514, 3)}
	for i, f := range frames {
		if err := w.WritePacket(ts.Add(time.Duration(i)*time.Second), f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if st := w.Stats(); st.Packets != 3 || st.Dropped != 0 || st.Bytes != int64(buf.Len()) {
		t.Errorf("Stats = %+v, want 3 packets, size %d", st, buf.Len())
	}
	r, err := pcaptest.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range frames {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(p.Data, want) || p.OrigLen != len(want) || !p.Time.Equal(ts.Add(time.Duration(i)*time.Second)) {
			t.Errorf("packet %d: %d bytes at %v, want %d at %v", i, len(p.Data), p.Time, len(want), ts)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last packet: %v, want EOF", err)
	}
}

func TestSnapLen(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, 100, 0)
	w.WritePacket(time.Now(), frame(1000, 7))
	w.Close()
	r, err := pcaptest.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Next()
	if err != nil || len(p.Data) != 100 || p.OrigLen != 1000 {
		t.Errorf("Next = %d bytes of %d, %v; want 100 of 1000", len(p.Data), p.OrigLen, err)
	}
}

func TestLimit(t *testing.T) {
	var buf bytes.Buffer
	// Header (24) + two 100-byte frames with headers (2*116) = 256.
	w, err := NewWriter(&buf, 0, 256)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		w.WritePacket(time.Now(), frame(100, 1))
	}
	w.Close()
	st := w.Stats()
	if st.Packets != 2 || st.Dropped != 3 || !st.LimitHit || buf.Len() != 256 {
		t.Errorf("Stats = %+v, file %d bytes; want 2 written, 3 dropped, 256 bytes", st, buf.Len())
	}
	if _, err := NewWriter(&buf, 0, 10); err == nil {
		t.Error("NewWriter accepted a limit below the header size")
	}
}

func TestConcurrentAndAllocs(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, 0, 0)
	f := frame(200, 9)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				w.WritePacket(time.Now(), f)
			}
		}()
	}
	wg.Wait()
	if n := testing.AllocsPerRun(100, func() { w.WritePacket(time.Now(), f) }); n != 0 {
		t.Errorf("WritePacket: %v allocations, want 0", n)
	}
	w.Close()
	r, _ := pcaptest.NewReader(&buf)
	n := 0
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d packets: %v", n, err)
		}
		if !bytes.Equal(p.Data, f) {
			t.Fatalf("packet %d interleaved with another", n)
		}
		n++
	}
	if n != 1600+101 {
		t.Errorf("%d packets read back, want %d", n, 1600+101)
	}
}

func TestReaderRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":     nil,
		"bad magic": make([]byte, 24),
		"short":     {0xd4, 0xc3, 0xb2, 0xa1},
	} {
		if _, err := pcaptest.NewReader(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: NewReader accepted it", name)
		}
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, 0, 0)
	w.WritePacket(time.Now(), frame(50, 1))
	w.Close()
	b := buf.Bytes()[:buf.Len()-10]
	r, err := pcaptest.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("truncated record: %v, want an error other than EOF", err)
	}
}

// TestTshark checks that tshark reads what Writer writes. It reads a file
// and touches no network.
func TestTshark(t *testing.T) {
	labtest.RequireTools(t, "tshark")
	path := filepath.Join(t.TempDir(), "x.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := NewWriter(f, 0, 0)
	for i := range 3 {
		w.WritePacket(time.Now(), frame(60+i, byte(i)))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.len").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var lens []string
	for l := range strings.Lines(string(out)) {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "Running as") {
			lens = append(lens, l)
		}
	}
	if got := strings.Join(lens, ","); got != "60,61,62" {
		t.Errorf("tshark frame lengths %q, want 60,61,62\n%s", got, out)
	}
}
