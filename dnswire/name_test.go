package dnswire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestIsSubdomain(t *testing.T) {
	tests := []struct {
		name, parent string
		want         bool
	}{
		{"\x03www\x07example\x00", "\x07example\x00", true},
		{"\x07example\x00", "\x07example\x00", true},
		{"\x07example\x00", "\x00", true},
		{"\x00", "\x00", true},
		{"\x00", "\x07example\x00", false},
		{"\x03www\x07example\x00", "\x03www\x00", false},
		// A suffix that does not start at a label boundary.
		{"\x03wwx\x01a\x00", "\x01x\x01a\x00", false},
		{"\x08xexample\x00", "\x07example\x00", false},
		// Octet for octet: callers give canonical names.
		{"\x03www\x07EXAMPLE\x00", "\x07example\x00", false},
		// Malformed names are below nothing, and do not panic.
		{"\x05ab", "\x00", false},
		{"\x03www", "\x00", false},
		{"", "\x00", false},
	}
	for _, tt := range tests {
		if got := IsSubdomain([]byte(tt.name), []byte(tt.parent)); got != tt.want {
			t.Errorf("IsSubdomain(%q, %q) = %v, want %v", tt.name, tt.parent, got, tt.want)
		}
	}
}

func TestReadName(t *testing.T) {
	// A message body: "Example.COM." at 0, "www" + pointer to 0 at 13,
	// a pointer to 13 at 19, then bad names.
	msg := []byte("\x07Example\x03COM\x00" + "\x03www\xC0\x00" + "\xC0\x0D")
	tests := []struct {
		name      string
		msg       []byte
		off       int
		canonical bool
		want      string
		next      int
	}{
		{"uncompressed, case kept", msg, 0, false, "\x07Example\x03COM\x00", 13},
		{"uncompressed, canonical", msg, 0, true, "\x07example\x03com\x00", 13},
		{"label then pointer", msg, 13, true, "\x03www\x07example\x03com\x00", 19},
		{"pointer to a pointer", msg, 19, false, "\x03www\x07Example\x03COM\x00", 21},
		{"root", []byte{0}, 0, true, "\x00", 1},
		{"self pointer", []byte{0xC0, 0}, 0, true, "", -1},
		{"forward pointer", []byte{0xC0, 2, 0}, 0, true, "", -1},
		{"truncated pointer", []byte{1, 'a', 0xC0}, 0, true, "", -1},
		{"truncated label", []byte{3, 'a', 'b'}, 0, true, "", -1},
		{"no end", []byte{1, 'a'}, 0, true, "", -1},
		{"label type 0x40", []byte{0x41, 'a', 0}, 0, true, "", -1},
		{"label type 0x80", []byte{0x81, 'a', 0}, 0, true, "", -1},
		{"off past the end", []byte{0}, 1, true, "", -1},
		{"256 octets", []byte(strings.Repeat("\x3f"+strings.Repeat("x", 63), 4) + "\x00"), 0, true, "", -1},
	}
	for _, tt := range tests {
		got, next := ReadName(tt.msg, tt.off, nil, tt.canonical)
		if string(got) != tt.want || next != tt.next || (tt.next < 0) != (got == nil) {
			t.Errorf("%s: ReadName = %q, %d; want %q, %d", tt.name, got, next, tt.want, tt.next)
		}
	}
}

func TestReadNameLimits(t *testing.T) {
	max := strings.Repeat("\x3f"+strings.Repeat("x", 63), 3) + "\x3d" + strings.Repeat("y", 61) + "\x00" // 255 octets
	if got, next := ReadName([]byte(max), 0, nil, false); string(got) != max || next != 255 {
		t.Errorf("a 255-octet name: %q, %d", got, next)
	}
	// The name's own octets count, not those dst held before.
	prefix := bytes.Repeat([]byte{'p'}, 300)
	if got, _ := ReadName([]byte(max), 0, prefix, false); string(got) != string(prefix)+max {
		t.Errorf("appending to a full dst: %q", got)
	}
	// maxPtrHops pointers are followed, one more is not. chain is a
	// chain of pointers, each to the one before, the first to the root
	// at 0 (offsets above 255 use the pointer's high bits).
	chain := func(hops int) []byte {
		b := []byte{0}
		prev := 0
		for range hops {
			at := len(b)
			b = append(b, 0xC0|byte(prev>>8), byte(prev))
			prev = at
		}
		return b
	}
	if got, next := ReadName(chain(maxPtrHops), 2*maxPtrHops-1, nil, false); string(got) != "\x00" || next != 2*maxPtrHops+1 {
		t.Errorf("%d hops: %q, %d; want the root", maxPtrHops, got, next)
	}
	if got, next := ReadName(chain(maxPtrHops+1), 2*maxPtrHops+1, nil, false); got != nil || next != -1 {
		t.Errorf("%d hops: %q, %d; want nil, -1", maxPtrHops+1, got, next)
	}
}

func TestReadNameAllocs(t *testing.T) {
	msg := []byte("\x07Example\x03COM\x00\x03www\xC0\x00")
	var buf [MaxNameLen]byte
	allocs := testing.AllocsPerRun(100, func() {
		if n, _ := ReadName(msg, 13, buf[:0], true); n == nil {
			t.Fatal("no name")
		}
	})
	if allocs != 0 {
		t.Errorf("ReadName into a stack buffer: %v allocations, want 0", allocs)
	}
}

func TestSkipName(t *testing.T) {
	tests := []struct {
		msg  string
		off  int
		want int
	}{
		{"\x03www\x07example\x00", 0, 13},
		{"\x03www\xC0\x0C", 0, 6},
		{"\xC0", 0, -1},
		{"\x03ww", 0, -1},
		{"\x41a\x00", 0, -1},
		{"", 0, -1},
	}
	for _, tt := range tests {
		if got := SkipName([]byte(tt.msg), tt.off); got != tt.want {
			t.Errorf("SkipName(%q, %d) = %d, want %d", tt.msg, tt.off, got, tt.want)
		}
	}
}

func TestAppendName(t *testing.T) {
	origin := []byte("\x07example\x00")
	tests := []struct {
		in      string
		origin  []byte
		want    string
		wantErr string
	}{
		{"www.Example.", nil, "\x03www\x07Example\x00", ""},
		{"www", origin, "\x03www\x07example\x00", ""},
		{".", nil, "\x00", ""},
		{"@", origin, "\x01@\x07example\x00", ""}, // "@" is the caller's
		{`a\.b.`, nil, "\x03a.b\x00", ""},
		{`\065\066.`, nil, "\x02AB\x00", ""},
		{`a\ b.`, nil, "\x03a b\x00", ""},
		{"www", nil, "", "no origin is known"},
		{"", origin, "", "empty name"},
		{"a..b.", nil, "", "empty label (two dots in a row, or a leading dot)"},
		{".a.", nil, "", "empty label (two dots in a row, or a leading dot)"},
		{strings.Repeat("l", 64) + ".", nil, "", `label "llllllllllllllll..." is 64 octets long; a label has at most 63`},
		{strings.Repeat("l", 64), origin, "", `label "llllllllllllllll..." is 64 octets long; a label has at most 63`},
		{strings.Repeat("a.", 127) + ".", nil, "", "empty label (two dots in a row, or a leading dot)"},
		{strings.Repeat("a.", 128), nil, "", "name longer than 255 octets"},
		{strings.Repeat("a.", 125) + "abc", origin, "", "name is 263 octets long; a name has at most 255"},
		{`a\`, origin, "", "backslash at the end of a word"},
		{`a\1b`, origin, "", `bad escape "\\1b": \ and a digit must be \DDD, three decimal digits`},
		{`a\256`, origin, "", `bad escape "\\256": above \255`},
	}
	for _, tt := range tests {
		got, err := AppendName([]byte("pre"), []byte(tt.in), tt.origin)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("AppendName(%q): error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != "pre"+tt.want {
			t.Errorf("AppendName(%q) = %q, %v; want %q", tt.in, got, err, "pre"+tt.want)
		}
	}
	if _, err := AppendName(nil, []byte("rel"), nil); !errors.Is(err, ErrNoOrigin) {
		t.Errorf("relative name without origin: %v, want ErrNoOrigin", err)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"WWW.Example.COM.", "\x03www\x07example\x03com\x00"},
		{"WWW.Example.COM", "\x03www\x07example\x03com\x00"},
		{".", "\x00"},
		{`A\.B`, "\x03a.b\x00"},
		{`\088`, "\x01x\x00"}, // escapes are lower-cased too: the result is canonical
	}
	for _, tt := range tests {
		got, err := ParseName(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("ParseName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "a..b", strings.Repeat("x", 64)} {
		if got, err := ParseName(in); err == nil {
			t.Errorf("ParseName(%q) = %q, want an error", in, got)
		}
	}
}
