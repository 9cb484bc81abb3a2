// Package difftest holds the differential correctness test of tapdns
// against two reference authoritative servers, NSD and Knot DNS.
//
// TestDifferential (root only) creates a network namespace, starts NSD and
// Knot on loopback and tapdns on a TAP inside it, all serving the zones in
// testdata/, sends every query of a few hundred cases to all three and
// compares the decoded answers field by field. Where NSD and Knot agree,
// their answer is the expected one; where they differ, the exceptions table
// (exceptions_test.go) says which one tapdns follows and why. The package
// has no non-test code.
package difftest
