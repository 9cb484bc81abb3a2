package resdiff

import (
	"testing"

	"github.com/tapdns/tapdns/internal/labtest"
)

// TestMain removes the tapdns binary the test built once it is done.
func TestMain(m *testing.M) {
	m.Run()
	labtest.RemoveBuild()
}
