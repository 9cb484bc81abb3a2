package zoneset

import (
	"log/slog"

	"github.com/tapdns/tapdns/zone"
)

// maxLoggedWarnings bounds the warnings logged for one zone file on each
// load; the rest are counted in one line (and in the zone_warnings metric).
const maxLoggedWarnings = 10

// logWarnings logs what loading z warned about (for example expired
// signatures or a broken NSEC chain, see zone.Warning): the zone is served
// anyway, but someone should look.
func logWarnings(log *slog.Logger, z *zone.Zone) {
	ws := z.Warnings()
	for i, w := range ws {
		if i == maxLoggedWarnings {
			break
		}
		log.Warn("zone warning", "warning", w.String())
	}
	if n := z.WarningCount(); n > maxLoggedWarnings {
		log.Warn("more zone warnings", "zone", zone.NameText(z.Origin), "file", z.File,
			"warnings", n, "not_logged", n-maxLoggedWarnings)
	}
}
