// Package resdiff holds the differential test of tapdns's resolver against
// two reference resolvers, Unbound and Knot Resolver (kresd).
//
// TestResolverDifferential (root only) creates a network namespace, brings
// up the fake Internet of internal/fakenet in it (NSD and Knot DNS serving
// a root, two TLDs and leaf zones with lame and dead servers, a glueless
// delegation, CNAME and DNAME chains, truncated answers and an IPv6-only
// server), starts Unbound and one kresd process on its lo with the fake
// root hints, and tapdns --resolve on a TAP with the same hints. All three
// get the same local data (an override, a hosts entry, a block list), each
// in its own configuration language. Every case of a table of queries goes
// to the three at once; the decoded answers are compared field by field.
// Where Unbound and kresd agree, their answer is the expected one; where
// they differ, the exceptions table says which one tapdns follows and why.
// TTLs are not compared for equality (the three caches filled at slightly
// different moments): each must be within the zone's TTL and, asked again
// later, have counted down with the clock. The package has no non-test
// code.
package resdiff
