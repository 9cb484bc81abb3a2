package zone

import (
	"fmt"
	"strconv"
)

// Warning is a problem in a zone that does not stop it from loading: the
// zone is served, but a person should look at it. Examples: records of
// one RRset with different TTLs, a TXT string over 255 octets, an expired
// signature or a broken NSEC chain. `tapdns check` prints them, the server
// logs them on each load, and a metric counts them.
type Warning struct {
	// File is the file the warning is about, as in load errors: the path
	// given (or that of an $INCLUDEd file), or "(input)".
	File string
	// Line is the line in File of the record the warning is about; for a
	// zone from a Builder, the record's number in the order of Add calls.
	// 0 means the zone as a whole.
	Line int
	// Message says what is wrong, without the position.
	Message string

	unit string // what Line counts: "line" (also when empty) or "record"
}

// String formats the warning like load errors, marked as a warning:
// "zone FILE: line N: warning: MESSAGE" ("record N" for a zone from a
// Builder), or "zone FILE: warning: MESSAGE" for the zone as a whole.
func (w Warning) String() string {
	if w.Line == 0 {
		return "zone " + fileText(w.File) + ": warning: " + w.Message
	}
	unit := w.unit
	if unit == "" {
		unit = "line"
	}
	return "zone " + fileText(w.File) + ": " + unit + " " + strconv.Itoa(w.Line) + ": warning: " + w.Message
}

// maxWarnings bounds the warnings a zone keeps in full: a zone with a
// systematic problem (say, a million unsigned RRsets) would otherwise
// hold a message per record. WarningCount counts them all.
const maxWarnings = 100

// Warnings returns the first warnings found while loading the zone, in
// the order found (at most 100; see WarningCount). The slice must not be
// modified.
func (z *Zone) Warnings() []Warning { return z.warnings }

// WarningCount returns the number of warnings found while loading the
// zone, including those Warnings leaves out.
func (z *Zone) WarningCount() int { return z.nwarnings }

// warn records a warning about the record at file index f, line l of the
// builder's inputs (line 0: the zone as a whole). finish hands them to
// the zone.
func (b *builder) warn(f uint16, l uint32, format string, args ...any) {
	b.nwarnings++
	if len(b.warnings) < maxWarnings {
		b.warnings = append(b.warnings, Warning{File: b.files[f], Line: int(l), Message: fmt.Sprintf(format, args...), unit: b.unit})
	}
}
