//go:build !race

package labtest

const Race = false
