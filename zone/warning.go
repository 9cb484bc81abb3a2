package zone

import "fmt"

// Warning is a problem in a zone file that does not stop the zone from
// loading: the zone is served, but a person should look at it (`tapdns
// check` prints these, and a metric counts them).
type Warning struct {
	// File and Line locate the record the warning is about (Line 0: the
	// zone as a whole).
	File string
	Line int
	// Message says what is wrong, without the position.
	Message string
}

// String formats the warning as "zone FILE: line N: MESSAGE", like load
// errors.
func (w Warning) String() string {
	if w.Line == 0 {
		return fmt.Sprintf("zone %s: %s", fileText(w.File), w.Message)
	}
	return fmt.Sprintf("zone %s: line %d: %s", fileText(w.File), w.Line, w.Message)
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
// builder's inputs (line 0: the zone as a whole).
func (b *builder) warn(z *Zone, f uint16, l uint32, format string, args ...any) {
	z.nwarnings++
	if len(z.warnings) < maxWarnings {
		z.warnings = append(z.warnings, Warning{File: b.files.name(int(f)), Line: int(l), Message: fmt.Sprintf(format, args...)})
	}
}
