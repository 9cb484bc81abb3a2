//go:build race

package labtest

// raceEnabled is true when the test binary was built with -race; the tapdns
// binary under test is then built with -race too.
const raceEnabled = true
