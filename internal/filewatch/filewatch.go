// Package filewatch notices when files change by polling them: their
// size, modification time or inode. It needs no inotify, so it works for
// files replaced by a rename (the safe way to update them), on any file
// system, and inside containers.
package filewatch

import (
	"context"
	"os"
	"syscall"
	"time"
)

// state is what is compared between polls.
type state struct {
	size  int64
	mtime time.Time
	ino   uint64
	err   bool
}

func stat(path string) state {
	fi, err := os.Stat(path)
	if err != nil {
		return state{err: true}
	}
	s := state{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// Files remembers the state of files between checks. The zero value is
// ready to use. A Files is used by one goroutine at a time.
type Files struct {
	last map[string]state
}

// Changed stats files and reports whether one differs from what the
// previous call recorded for it: its size, modification time or inode, or
// whether it can be stat'ed at all. A file the previous call did not have
// counts as changed, so that a list that grows (a zone file that now
// includes another) is checked from then on. Only the files of this call
// are remembered.
func (f *Files) Changed(files []string) bool {
	now := make(map[string]state, len(files))
	changed := false
	for _, name := range files {
		s := stat(name)
		if old, ok := f.last[name]; !ok || old != s {
			changed = true
		}
		now[name] = s
	}
	f.last = now
	return changed
}

// Poll checks files every interval and calls changed once a change has
// been still for debounce (editors and deploy tools write in steps), until
// ctx is done. The first check is due at once: a file may have changed
// between its loading and the call. changed runs on Poll's goroutine; a
// caller that must know whether the content really differs (a touch
// changes the time only) compares it there.
func Poll(ctx context.Context, files []string, interval, debounce time.Duration, changed func()) {
	var w Files
	w.Changed(files)
	Loop(ctx, interval, debounce, func() bool { return w.Changed(files) }, changed)
}

// Loop is Poll for a caller that checks for changes itself (its list of
// files changes, say, between checks): it calls check every interval,
// and changed once check has reported a change (true) and then nothing
// new for debounce, until ctx is done. Like Poll's, the first call of
// changed is due at once (after debounce). check and changed run on Loop's
// goroutine.
func Loop(ctx context.Context, interval, debounce time.Duration, check func() bool, changed func()) {
	pendingSince := time.Now() // zero: no change pending
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if check() {
			pendingSince = time.Now()
		}
		if pendingSince.IsZero() || time.Since(pendingSince) < debounce {
			continue
		}
		pendingSince = time.Time{}
		changed()
	}
}
