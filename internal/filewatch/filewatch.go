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

// Poll checks files every interval and calls changed once a change has
// been still for debounce (editors and deploy tools write in steps), until
// ctx is done. The first check is due at once: a file may have changed
// between its loading and the call. changed runs on Poll's goroutine; a
// caller that must know whether the content really differs (a touch
// changes the time only) compares it there.
func Poll(ctx context.Context, files []string, interval, debounce time.Duration, changed func()) {
	states := make([]state, len(files))
	for i, f := range files {
		states[i] = stat(f)
	}
	pendingSince := time.Now() // zero: no change pending
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, f := range files {
			if s := stat(f); s != states[i] {
				states[i] = s
				pendingSince = time.Now()
			}
		}
		if pendingSince.IsZero() || time.Since(pendingSince) < debounce {
			continue
		}
		pendingSince = time.Time{}
		changed()
	}
}
