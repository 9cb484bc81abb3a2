//go:build race

package labtest

// Race is true when the test binary was built with -race; BuildTapdns then
// builds tapdns with -race too, which makes it several times slower.
const Race = true
