package difftest

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
		{"example./MX/*", "example./MX/plain/udp", true},
		{"example./MX/*", "mx.example./MX/plain/udp", false},
		{"raw/opcode/notify*", "raw/opcode/notify/tcp", true},
		{"raw/opcode/notify*", "raw/opcode/notif", false},
		{"*/A/*", "x.example./A/edns/tcp", true},
		{"*/A/*", "x.example./AAAA/edns/tcp", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// TestCases checks the query list itself: unique names, every raw query
// of the intended shape, every exception naming a follower.
func TestCases(t *testing.T) {
	cs := allCases() // panics on duplicate names
	if len(cs) < 300 {
		t.Errorf("%d cases, want at least 300", len(cs))
	}
	for _, e := range exceptions {
		if e.follow != "nsd" && e.follow != "knot" {
			t.Errorf("exception %q follows %q, want nsd or knot", e.id, e.follow)
		}
		if e.rfc == "" || e.why == "" || len(e.cases) == 0 {
			t.Errorf("exception %q lacks a reference, a reason or cases", e.id)
		}
		for _, p := range e.cases {
			n := 0
			for _, c := range cs {
				if globMatch(p, c.name) {
					n++
				}
			}
			if n == 0 {
				t.Errorf("exception %q: pattern %q matches no case", e.id, p)
			}
		}
	}
}
