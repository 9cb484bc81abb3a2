package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// maxTraceSteps bounds the delegations a trace follows (a loop of
// referrals would otherwise never end).
const maxTraceSteps = 30

// TraceOptions says which address families the local stack can use.
type TraceOptions struct {
	Options
	IPv4, IPv6 bool
	// Port is the name servers' port; 0 means 53 (tests use another).
	Port uint16
}

// Trace walks the delegations from the root to name as dig +trace does:
// it asks server for the root's name servers (and for any name server
// address a referral lacks), then asks the name servers themselves, with
// RD=0, following referrals down to the answer, and prints each response
// as dig +trace does. It returns the last response.
func Trace(ctx context.Context, n Network, server netip.AddrPort, name string, qtype uint16, o TraceOptions, w io.Writer) (*Result, error) {
	rootQ := NewQuery(".", dns.TypeNS, o.Options)
	rootQ.RecursionDesired = true
	r, err := Exchange(ctx, n, server, rootQ, o.Options)
	if err != nil {
		return nil, fmt.Errorf("root name servers from %v: %w", server, err)
	}
	printStep(w, r, "", r.Msg.Answer)
	servers := nsSet(r.Msg.Answer, r.Msg.Extra)
	if len(servers) == 0 {
		return r, fmt.Errorf("%v returned no root name servers", server)
	}
	qo := o.Options
	qo.NoRec = true
	for step := 0; step < maxTraceSteps; step++ {
		res, nsName, err := askAny(ctx, n, server, servers, name, qtype, o, qo)
		if err != nil {
			return nil, err
		}
		m := res.Msg
		printStep(w, res, nsName, append(append([]dns.RR(nil), m.Answer...), m.Ns...))
		if len(m.Answer) > 0 || m.Rcode != dns.RcodeSuccess || m.Authoritative {
			return res, nil
		}
		next := nsSet(m.Ns, m.Extra)
		if len(next) == 0 {
			return res, nil // NODATA without AA, or a lame answer: stop, as dig does
		}
		servers = next
	}
	return nil, fmt.Errorf("more than %d delegations", maxTraceSteps)
}

// nameServer is one NS target and the addresses known for it.
type nameServer struct {
	name  string
	addrs []netip.Addr
}

// nsSet collects the NS targets in rrs with their glue from extra.
func nsSet(rrs, extra []dns.RR) []nameServer {
	var out []nameServer
	for _, rr := range rrs {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		s := nameServer{name: ns.Ns}
		for _, x := range extra {
			if !strings.EqualFold(x.Header().Name, ns.Ns) {
				continue
			}
			switch a := x.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
					s.addrs = append(s.addrs, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(a.AAAA); ok {
					s.addrs = append(s.addrs, ip)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// askAny asks the name servers in turn until one answers. Addresses
// missing from the glue are looked up through server.
func askAny(ctx context.Context, n Network, server netip.AddrPort, servers []nameServer, name string, qtype uint16, o TraceOptions, qo Options) (*Result, string, error) {
	var last error
	for _, s := range servers {
		addrs := usable(s.addrs, o)
		if len(addrs) == 0 {
			addrs = usable(lookup(ctx, n, server, s.name, o), o)
		}
		for _, a := range addrs {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			port := o.Port
			if port == 0 {
				port = 53
			}
			r, err := Exchange(ctx, n, netip.AddrPortFrom(a, port), NewQuery(name, qtype, qo), qo)
			if err == nil {
				return r, s.name, nil
			}
			last = fmt.Errorf("%s (%v): %w", s.name, a, err)
		}
	}
	if last == nil {
		last = errors.New("no address for any name server")
	}
	return nil, "", last
}

func usable(addrs []netip.Addr, o TraceOptions) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if (a.Is4() && o.IPv4) || (a.Is6() && o.IPv6) {
			out = append(out, a)
		}
	}
	return out
}

// lookup resolves a name server's addresses through server.
func lookup(ctx context.Context, n Network, server netip.AddrPort, name string, o TraceOptions) []netip.Addr {
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if (t == dns.TypeA && !o.IPv4) || (t == dns.TypeAAAA && !o.IPv6) {
			continue
		}
		q := NewQuery(name, t, o.Options)
		q.RecursionDesired = true
		r, err := Exchange(ctx, n, server, q, o.Options)
		if err != nil {
			continue
		}
		for _, s := range nsSet([]dns.RR{&dns.NS{Hdr: dns.RR_Header{Rrtype: dns.TypeNS}, Ns: name}}, r.Msg.Answer) {
			out = append(out, s.addrs...)
		}
	}
	return out
}

// printStep prints the records of one step and where they came from, as
// dig +trace does.
func printStep(w io.Writer, r *Result, nsName string, rrs []dns.RR) {
	for _, rr := range rrs {
		fmt.Fprintln(w, rr.String())
	}
	if nsName == "" {
		nsName = r.Server.Addr().String()
	}
	fmt.Fprintf(w, ";; Received %d bytes from %s#%d(%s) in %d ms\n\n", r.Size, r.Server.Addr(), r.Server.Port(), nsName, r.RTT.Milliseconds())
}
