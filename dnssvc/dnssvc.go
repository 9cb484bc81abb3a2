// Package dnssvc turns DNS query messages into authoritative response
// messages from a zone.Set. It is transport-agnostic: bytes in, bytes out.
package dnssvc

import (
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/tapdns/tapdns/zone"
)

// Config holds the server's policy. The zero value is usable.
type Config struct {
	// UDPSize is the EDNS UDP payload size advertised in responses and the
	// largest UDP response sent even when a client offers more. 0 means 1232
	// (the DNS Flag Day 2020 value, also NSD's and Knot's default).
	UDPSize int
	// NSID, when non-empty, is returned in the EDNS NSID option (RFC 5001) to
	// clients that ask for it.
	NSID string
	// Chaos enables answers to CHAOS-class TXT queries for version.bind,
	// version.server, hostname.bind and id.server; otherwise they are refused.
	Chaos bool
	// Version and Identity are the CHAOS answers; empty means defaults.
	Version, Identity string
}

// Request describes where a query came from.
type Request struct {
	Client netip.AddrPort
	TCP    bool
}

// Server answers queries. It is safe for concurrent use; Respond does not
// allocate.
type Server struct {
	cfg   Config
	log   *slog.Logger
	zones atomic.Pointer[zone.Set]
}

// New returns a Server answering from zones (nil means an empty set).
func New(cfg Config, zones *zone.Set, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger}
	s.SetZones(zones)
	return s
}

// SetZones atomically replaces the zones; queries already being answered
// finish with the set they started with.
func (s *Server) SetZones(z *zone.Set) {
	if z == nil {
		z = &zone.Set{}
	}
	s.zones.Store(z)
}

// Zones returns the set currently served.
func (s *Server) Zones() *zone.Set { return s.zones.Load() }

// Respond writes the response to query into dst[:0] and returns it. It
// returns a zero-length slice when the query must not be answered (it is a
// response, or too short to carry a DNS header). dst is owned by the caller;
// if it is too small Respond grows it (callers should pass 64 KiB for TCP
// and at least the UDP limit for UDP so that this never happens). query and
// dst must not overlap.
func (s *Server) Respond(dst, query []byte, req Request) []byte {
	return dst[:0] // TODO: implemented by the dnssvc work
}
