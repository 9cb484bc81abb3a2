// Command testsummary reads `go test -json` output on stdin and writes what
// a plain `go test` would have shown (each package's result line, and the
// whole output of every test that failed), then a summary of the skipped
// tests with their reasons. CI uses it (.ci/run) so that a skipped test is
// listed at the end of the log instead of passing unnoticed.
//
// Usage:
//
//	go test -json ./... | go run ./internal/testsummary [-fail-on-skip]
//
// It exits 1 when the input shows a failure (or, with -fail-on-skip, a
// skip), 0 otherwise. It does not replace go test's exit status: callers
// check both.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

// summary accumulates the stream.
type summary struct {
	out     io.Writer
	buf     map[key][]string // output of tests still running
	skipped []skip
	failed  int
}

type skip struct {
	key
	reason string
}

func main() {
	failOnSkip := flag.Bool("fail-on-skip", false, "exit 1 when a test was skipped")
	flag.Parse()
	s := &summary{out: os.Stdout, buf: map[key][]string{}}
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s.report()
	if s.failed > 0 || (*failOnSkip && len(s.skipped) > 0) {
		os.Exit(1)
	}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not test2json output (a build error printed by go
			// itself): pass it through.
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.add(e)
	}
	return sc.Err()
}

func (s *summary) add(e event) {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output":
		if e.Test == "" {
			// Package-level lines: "ok  pkg 1.2s", "FAIL", build
			// errors, panics outside tests. Drop the "PASS" that -v
			// style output has before the result line.
			if e.Output != "PASS\n" {
				fmt.Fprint(s.out, e.Output)
			}
			return
		}
		s.buf[k] = append(s.buf[k], e.Output)
	case "fail":
		if e.Test != "" {
			s.failed++
			fmt.Fprint(s.out, strings.Join(s.buf[k], ""))
		} else {
			s.failed++
			// A package that failed outside a test (a panic, a
			// timeout): show what its unfinished tests printed.
			for bk, lines := range s.buf {
				if bk.pkg == e.Package {
					fmt.Fprint(s.out, strings.Join(lines, ""))
					delete(s.buf, bk)
				}
			}
		}
		delete(s.buf, k)
	case "skip":
		if e.Test != "" {
			s.skipped = append(s.skipped, skip{k, reason(s.buf[k])})
		}
		delete(s.buf, k)
	case "pass":
		delete(s.buf, k)
	}
}

// reason returns what a skipped test logged, without go test's own
// "=== RUN" and "--- SKIP" lines.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		r = append(r, t)
	}
	return strings.Join(r, " | ")
}

func (s *summary) report() {
	if len(s.skipped) == 0 {
		fmt.Fprintln(s.out, "testsummary: no test skipped")
		return
	}
	sort.Slice(s.skipped, func(i, j int) bool {
		a, b := s.skipped[i], s.skipped[j]
		if a.pkg != b.pkg {
			return a.pkg < b.pkg
		}
		return a.test < b.test
	})
	fmt.Fprintf(s.out, "testsummary: %d tests skipped:\n", len(s.skipped))
	for _, sk := range s.skipped {
		fmt.Fprintf(s.out, "  SKIP %s %s: %s\n", sk.pkg, sk.test, sk.reason)
	}
}
