package e2e

import (
	"testing"

	"github.com/tapdns/tapdns/internal/labtest"
)

// TestMain removes the tapdns binary the tests built once they are done.
func TestMain(m *testing.M) {
	m.Run()
	labtest.RemoveBuild()
}
