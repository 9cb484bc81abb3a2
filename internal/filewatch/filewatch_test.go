package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Poll(ctx, []string{f, filepath.Join(dir, "missing")}, 10*time.Millisecond, 50*time.Millisecond, func() { calls.Add(1) })
	}()
	waitFor := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for calls.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("changed called %d times, want %d", calls.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(1) // the first check is due at once
	// A replacement by rename is a change.
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte("two, longer"), 0o644)
	os.Rename(tmp, f)
	waitFor(2)
	// Creating a missing file is a change.
	os.WriteFile(filepath.Join(dir, "missing"), nil, 0o644)
	waitFor(3)
	// Nothing changes: no more calls.
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load(); n != 3 {
		t.Errorf("changed called %d times with nothing changing, want 3", n)
	}
	cancel()
	<-done
}

func TestFilesChanged(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	var w Files
	steps := []struct {
		what  string
		do    func()
		files []string
		want  bool
	}{
		{"first call", nil, []string{a}, true},
		{"nothing changed", nil, []string{a}, false},
		{"a grows", func() { os.WriteFile(a, []byte("one two"), 0o644) }, []string{a}, true},
		{"b joins the list (missing)", nil, []string{a, b}, true},
		{"b still missing", nil, []string{a, b}, false},
		{"b created", func() { os.WriteFile(b, nil, 0o644) }, []string{a, b}, true},
		{"b leaves the list", nil, []string{a}, false},
		{"b back in the list", nil, []string{a, b}, true},
		{"a replaced by a rename", func() {
			tmp := filepath.Join(dir, "tmp")
			os.WriteFile(tmp, []byte("one two"), 0o644)
			os.Rename(tmp, a)
		}, []string{a, b}, true},
		{"empty list", nil, nil, false},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		if got := w.Changed(s.files); got != s.want {
			t.Errorf("%s: Changed = %v, want %v", s.what, got, s.want)
		}
	}
}
