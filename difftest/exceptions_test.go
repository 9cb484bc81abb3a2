package difftest

// exception explains a case where NSD and Knot give different answers, and
// says which one tapdns gives.
type exception struct {
	id string
	// cases are path.Match patterns over case names.
	cases []string
	// follow is "nsd" or "knot": whose answer tapdns must give.
	follow string
	// set replaces fields of the followed answer (field name -> value as
	// printed by view.String), for the few cases where both reference
	// servers implement something tapdns deliberately does not.
	set map[string]string
	// ignore names fields left out of the comparison with tapdns, for
	// truncated answers whose partial sections the two servers fill
	// differently (a client discards them and retries over TCP).
	ignore []string
	// rfc is the governing reference; why explains the choice.
	rfc, why string
}

// exceptions is the one table of accepted NSD/Knot differences. Every entry
// must explain at least one case where they really differ, or the test
// fails. The "Behaviour" section of README.md describes the same choices for users.
var exceptions = []exception{
	{
		id: "additional-for-targets",
		cases: []string{"example./MX/*", "mx.example./MX/*", "_sip._tcp.example./SRV/*", "raw/edns/size*-mx",
			"mx.example./ANY/*", "_sip._tcp.example./ANY/*", "lcmx.example./MX/*", "lcsrv.example./SRV/*",
			"tomx.example./MX/*", "tosrv.example./SRV/*", "tons.example./MX/*",
			"nsec./MX/*", "nsec3./MX/*", "optout./MX/*", "mx.nsec./MX/*", "mx.nsec3./MX/*", "mx.optout./MX/*",
			"_sip._tcp.nsec./SRV/*", "_sip._tcp.nsec3./SRV/*", "_sip._tcp.optout./SRV/*"},
		follow: "knot",
		rfc:    "RFC 1034 §4.3.2 step 6, RFC 1035 §3.3.9, RFC 2782 (additional section processing)",
		why: "Knot adds the A/AAAA records of MX and SRV targets that are in the same zone, as it does " +
			"for NS, also when the RRset is the one answered for qtype ANY; NSD with minimal-responses " +
			"(needed so that it, like Knot and tapdns, puts no NS RRset in the authority section of " +
			"positive answers) adds nothing. tapdns follows Knot: it saves the client a query at no " +
			"risk (same zone, authoritative data).",
	},
	{
		id: "referral-glue-truncation",
		cases: []string{"www.bigdeleg.example./A/plain/udp", "www.bigdeleg.example./A/edns512/udp",
			"tobig.example./A/plain/udp", "tobig.example./A/edns512/udp"},
		follow: "knot",
		set:    map[string]string{fAdditional: "-"},
		rfc:    "RFC 9471 §3 (TC=1 when in-domain glue does not fit), RFC 2181 §9",
		why: "A referral with 13 in-bailiwick name servers and A+AAAA glue for each does not fit in 512 " +
			"octets. NSD 4.6 (before RFC 9471) drops the AAAA glue and does not set TC; Knot sets TC " +
			"and sends the NS RRset with as much glue as fits. tapdns sets TC and sends the NS RRset " +
			"like Knot, but no glue: with TC set the client retries over TCP and gets all of it. The same " +
			"after a CNAME (tobig), where both keep the CNAME.",
	},
	{
		id:     "rrset-ttl",
		cases:  []string{"ttlmix.example./A/*"},
		follow: "knot",
		set:    map[string]string{fAnswer: "ttlmix.example. 100 IN A 198.18.1.100\nttlmix.example. 100 IN A 198.18.1.101"},
		rfc:    "RFC 2181 §5.2 (all RRs of an RRset have the same TTL)",
		why: "The zone gives the two A records of ttlmix TTLs 100 and 200. NSD serves each record with " +
			"its own TTL (an RRset with two TTLs); Knot gives the whole RRset one TTL, the last one (200). " +
			"tapdns gives the RRset one TTL like Knot, the first record's (100), as BIND does and as " +
			"zone/zone.go documents.",
	},
	{
		id:     "any-at-apex",
		cases:  []string{"example./ANY/*", "child.example./ANY/*", "nsec./ANY/*", "nsec3./ANY/*", "optout./ANY/*"},
		follow: "knot",
		rfc:    "RFC 8482 §4.1 (answer ANY with a subset: one RRset of the server's choosing)",
		why: "Both return one RRset for ANY, over UDP and TCP alike. At the apex NSD picks the SOA, " +
			"Knot the RRset with the lowest type (A). tapdns picks the lowest type everywhere, like Knot, " +
			"which is what NSD does at every other name.",
	},
	{
		id: "cname-across-zones",
		cases: []string{"xzone.example./A/*", "xzone2.example./A/*", "tochild.example./*", "cnameout.*",
			"back.child.example./*", "tonet.child.example./A/*", "alias.example.net./A/*", "back.example.net./A/*",
			"www.dname.example./*"},
		follow: "knot",
		rfc: "RFC 1034 §4.3.2 step 3a (restart with the CNAME target); RFC 2181 §5.4.1 (data from " +
			"outside the zone is not authoritative for this answer)",
		why: "NSD follows a CNAME chain into every zone it serves (a served child, sibling zones, back " +
			"and forth); Knot follows it only inside the zone of the query name, and a target below a " +
			"cut of that zone (tochild) gets the referral, as step 3b of the algorithm says. tapdns " +
			"follows Knot (dnssvc.Config.CNAMEAcrossZones is false by default): a resolver does not " +
			"trust out-of-bailiwick records anyway, so the extra records only cost bytes.",
	},
	{
		id:     "cname-chain-limit",
		cases:  []string{"hop*.example./*"},
		follow: "knot",
		rfc:    "RFC 1034 §3.6.2 and §4.3.2 (a chain is followed; no length is set); RFC 2181 §10.1",
		why: "NSD follows a CNAME chain to its end (here 8 CNAMEs and the A record); Knot writes at most " +
			"5 CNAME records and leaves the rest to the resolver, which restarts at the last target. " +
			"tapdns follows Knot: it bounds the work and the size of one answer, and chains that long " +
			"are a zone error anyway.",
	},
	{
		id:     "dname-below-itself",
		cases:  []string{"a.dloop.example./*"},
		follow: "knot",
		rfc:    "RFC 6672 §3.2 and §5.2 (DNAME substitution; loops are the resolver's to detect)",
		why: "For dloop DNAME x.dloop, each substitution lands below the DNAME again. NSD answers the " +
			"DNAME and the first synthesised CNAME and stops; Knot goes on to its chain limit (5 CNAMEs), " +
			"writing the DNAME once. tapdns follows Knot: the same rule as for CNAME chains " +
			"(cname-chain-limit), so the answer does not depend on how the chain was built.",
	},
	{
		id:     "svcb-name-case",
		cases:  []string{"lcsvcb.example./SVCB/*"},
		follow: "knot",
		rfc:    "RFC 4034 §6.2 (the types whose rdata names are lower-cased); RFC 9460 §2.2 (SVCB TargetName)",
		why: "NSD lower-cases every name in rdata; Knot those of the types RFC 4034 §6.2 lists (both agree " +
			"for all of them) and keeps the case of the SVCB TargetName. tapdns follows Knot: SVCB is not " +
			"in that list, and its rdata is sent as stored like every other type without names to fold.",
	},
	{
		id:     "xfr-refused",
		cases:  []string{"example./AXFR/*", "example./IXFR/*", "raw/xfr/apex-*"},
		follow: "nsd",
		rfc:    "RFC 5936 §2.2.1 and §4 (a refused transfer: REFUSED); RFC 8914 §4.19 (EDE 18 Prohibited)",
		why: "tapdns never transfers zones. For the apex of a zone they serve NSD answers REFUSED with " +
			"Extended DNS Error 18 (Prohibited), Knot NOTAUTH. tapdns answers like NSD: REFUSED is the " +
			"policy answer, and both servers already agree on REFUSED with an EDE (20, Not Authoritative) " +
			"for names outside their zones. (For names that are no zone apex both answer NOTAUTH, and so " +
			"does tapdns; over UDP AXFR is NOTIMP everywhere.)",
	},
	{
		id:     "qtype-0",
		cases:  []string{"example./None/*"},
		follow: "nsd",
		rfc:    "RFC 6895 §3.1 (type 0 is reserved: no RRset of that type can exist)",
		why: "NSD treats type 0 like any type the name has no data for (NODATA); Knot answers NOTIMP. " +
			"tapdns follows NSD: no special case, the negative answer is true.",
	},
	{
		id: "formerr-not-silence",
		cases: []string{"raw/qdcount2*", "raw/qdcount1-missing", "raw/question-truncated", "raw/label-64",
			"raw/label-type-01", "raw/name-256", "raw/pointer-*", "raw/edns/formerr+edns"},
		follow: "nsd",
		rfc:    "RFC 1035 §4.1.1 (FORMERR), RFC 8906 §3 (answer, do not drop)",
		why: "For a header that parses but a question that does not (QDCOUNT != 1, a bad or over-long " +
			"name, compression pointers in the question) NSD answers FORMERR with an empty question " +
			"section; Knot drops the packet. tapdns follows NSD: a client gets a definite answer " +
			"instead of a timeout.",
	},
	{
		id: "question-in-errors",
		cases: []string{"raw/opcode/iquery*", "raw/opcode/status", "raw/opcode/3", "raw/opcode/15",
			"raw/edns/notimp+edns", "raw/class/hs", "raw/class/none", "raw/class/0", "raw/class/hs+edns",
			"raw/class/none+edns", "raw/edns/opt-truncated",
			"raw/edns/two-opt", "raw/edns/opt-in-answer", "raw/edns/opt-rdlen-short", "raw/ancount1-missing"},
		follow: "knot",
		rfc:    "RFC 1035 §4.1.1-4.1.2 (a response carries the question it answers); RFC 6891 §7 (OPT in responses to EDNS queries)",
		why: "When the question parses but the query is refused or malformed further on, Knot keeps the " +
			"question (and the OPT record) in the error response; NSD sends an empty question section and " +
			"no OPT. tapdns follows Knot, so a client can match the error to its query.",
	},
	{
		id:     "notimp-clean-header",
		cases:  []string{"raw/opcode/15-allflags"},
		follow: "knot",
		set:    map[string]string{fFlags: "qr"},
		rfc:    "RFC 1035 §4.1.1 (RD is copied into a response to a query; an unknown opcode is not one)",
		why: "An unknown opcode with every header flag set: Knot copies RD into its NOTIMP answer, NSD " +
			"answers with an empty question. tapdns keeps the question like Knot (see question-in-errors) " +
			"but sends only QR and the opcode, as BIND does; ISC's EDNS compliance test (opcodeflg) flags " +
			"a copied RD.",
	},
	{
		id:     "notify-update-notimp",
		cases:  []string{"raw/opcode/notify*", "raw/opcode/update*"},
		follow: "knot",
		set:    map[string]string{fRcode: "NOTIMP"},
		rfc:    "RFC 1035 §4.1.1 (NOTIMP); RFC 1996 and RFC 2136 are optional",
		why: "NSD and Knot implement NOTIFY and UPDATE and turn these down by policy (NSD: REFUSED or " +
			"NXDOMAIN with AA; Knot: NOTAUTH). tapdns implements neither, so it answers NOTIMP, with the " +
			"question echoed and AA clear as Knot does.",
	},
	{
		id:     "qdcount0-with-edns",
		cases:  []string{"raw/qdcount0+edns"},
		follow: "knot",
		rfc:    "RFC 1035 §4.1.1; RFC 7873 §5.4 allows QDCOUNT 0 only with a COOKIE option",
		why: "Without EDNS both answer FORMERR; with an OPT record NSD answers NOERROR. tapdns answers " +
			"FORMERR whatever the additional section holds, like Knot (it does not implement cookies).",
	},
	{
		id:     "trailing-bytes",
		cases:  []string{"raw/trailing-garbage"},
		follow: "nsd",
		rfc:    "RFC 1035 §4.1 (the message is the header and the sections its counts announce)",
		why: "NSD ignores bytes after the last section the header counts; Knot answers FORMERR. tapdns " +
			"follows NSD: the query itself is complete and well-formed.",
	},
	{
		id:     "records-in-query",
		cases:  []string{"raw/ancount1", "raw/nscount1", "raw/arcount1-a-record", "raw/rcode-in-query"},
		follow: "knot",
		rfc:    "RFC 1035 §4.1.1 (RCODE is set in responses), §4.1.3 (sections of a query are not interpreted)",
		why: "A query with well-formed records in its answer, authority or additional section, or with a " +
			"non-zero RCODE, is answered normally by Knot and with FORMERR by NSD. tapdns follows Knot: " +
			"nothing in the query is ambiguous, so it answers the question.",
	},
	{
		id:     "opt-owner-not-root",
		cases:  []string{"raw/edns/opt-owner-not-root"},
		follow: "nsd",
		set:    map[string]string{fQEcho: "exact", fQuestion: "a.example. IN A"},
		rfc:    "RFC 6891 §6.1.2 (the OPT owner MUST be the root)",
		why: "Knot accepts an OPT record with another owner; NSD answers FORMERR. tapdns answers FORMERR " +
			"like NSD (the record is malformed) but keeps the question, as in every error response " +
			"where the question parsed (see question-in-errors).",
	},
	{
		id:     "class-any",
		cases:  []string{"raw/class/any"},
		follow: "nsd",
		rfc:    "RFC 1035 §3.2.5 and §4.1.1 (QCLASS * matches every class; AA speaks for the whole answer)",
		why: "Both answer a QCLASS ANY query with the IN data; NSD clears AA, Knot sets it. tapdns follows " +
			"NSD: a server serving class IN only cannot claim the authoritative answer for every class.",
	},
	{
		id:     "class-any-negative",
		cases:  []string{"raw/class/any-nx", "raw/class/any-nodata"},
		follow: "knot",
		set:    map[string]string{fFlags: "qr"},
		rfc:    "RFC 2308 §3 (negative answers carry the SOA); RFC 1035 §3.2.5",
		why: "For a QCLASS * query that has no answer NSD sends NXDOMAIN/NODATA without the SOA and " +
			"without AA; Knot adds the SOA and sets AA. tapdns adds the SOA like Knot, so that the " +
			"answer can be cached, and keeps AA clear as for every QCLASS * answer (class-any).",
	},
	{
		id: "refused-class-ede",
		cases: []string{"raw/class/ch-a+edns", "raw/class/ch-outside+edns", "raw/chaos/*+edns",
			"raw/xfr/class-ch-axfr+edns"},
		follow: "nsd",
		rfc:    "RFC 8914 §4.22 (EDE 21 Not Supported); RFC 1035 §4.1.1 (REFUSED)",
		why: "Both refuse queries in classes they do not serve (CHAOS names other than the identity " +
			"queries, CHAOS types other than TXT). NSD adds Extended DNS Error 21 (Not Supported) when " +
			"the query has EDNS, Knot adds nothing (and answers a CHAOS AXFR with NOTIMP). tapdns follows " +
			"NSD: the EDE tells the client why, as tapdns already does with EDE 20 and 18 where the two " +
			"servers agree. (For classes HS, NONE and others NSD also drops the question and tapdns " +
			"follows Knot: question, no EDE; see question-in-errors.)",
	},
	{
		id:     "chaos-any",
		cases:  []string{"raw/chaos/version.bind-any"},
		follow: "nsd",
		rfc:    "RFC 4892 (version.bind and friends are CH TXT); RFC 8482 §4.1",
		why: "NSD answers CH ANY version.bind with the TXT record; Knot refuses every type but TXT. " +
			"tapdns follows NSD: ANY gets the one RRset the name has, as it does in class IN.",
	},
	{
		id:     "badvers-do",
		cases:  []string{"raw/edns/v1+do"},
		follow: "knot",
		rfc:    "RFC 3225 §3 (the DO bit is copied into the response), RFC 6891 §6.1.3 (BADVERS)",
		why: "For an EDNS version 1 query with DO both answer BADVERS with an OPT of version 0; Knot " +
			"copies DO, NSD clears it. tapdns copies DO in every response with OPT.",
	},
	{
		id:     "edns-expire",
		cases:  []string{"raw/edns/opt-expire"},
		follow: "nsd",
		rfc:    "RFC 7314 (EDNS EXPIRE is for zone transfer clients; optional)",
		why: "Knot returns the EXPIRE option with the zone's SOA expire; NSD ignores the option. tapdns " +
			"follows NSD: it does not transfer zones and sends no EDNS options it was not built for.",
	},
	{
		id:     "sibling-glue",
		cases:  []string{"www.tld.example./A/plain/udp", "www.tld.example./A/edns512/udp", "tld.example./NS/*"},
		follow: "nsd",
		rfc:    "RFC 9471 §3 (sibling glue is optional: what does not fit is left out, without TC)",
		why: "A referral to 13 name servers whose addresses are sibling glue, like the root zone's for com., " +
			"does not fit in 512 octets with all of them. Both add what still fits, without TC: NSD the A " +
			"record of every name first, then an AAAA record while one fits; Knot A and AAAA name by name, " +
			"then the A records that still fit. tapdns follows NSD: the resolver gets an IPv4 address for " +
			"every name server rather than two addresses for half of them.",
	},
	{
		id:     "rrsig-query",
		cases:  []string{"*/RRSIG/*"},
		follow: "nsd",
		rfc:    "RFC 4034 §3 (an RRSIG's TTL is that of the RRset it covers); RFC 4035 §3.1.5 is silent on qtype RRSIG",
		why: "For a query of type RRSIG at a signed name NSD answers every RRSIG record there, each with the " +
			"TTL of the RRset it covers; Knot answers one of them. tapdns follows NSD: the answer is the " +
			"records the zone has, as for every other type.",
	},
	{
		id: "signed-truncation",
		cases: []string{"big.*./TXT/do512/udp", "n1.*./A/do512/udp", "www.insecure.*./A/do512/udp",
			"nsec*./NS/do512/udp", "nsec*./NS/do-size0/udp", "optout./NS/do*/udp"},
		follow: "nsd",
		rfc:    "RFC 4035 §3.1.1 (if the RRSIG RRs do not fit, the name server MUST set TC; in the additional section it need not)",
		why: "Signed answers over 512 octets. Where a signed RRset does not fit in the answer or authority " +
			"section both set TC, but NSD leaves the RRset out with its signatures and Knot sends it " +
			"without them. In the additional section NSD adds the A RRsets of the targets (each with its " +
			"signatures, or not at all) and then, if they all fit, the AAAA RRsets; Knot adds what fits " +
			"name by name, dropping signatures, and sets TC when it drops glue. tapdns follows NSD: an " +
			"RRset and its signatures are one unit, RRsets are never sent in part, and the additional " +
			"section is optional.",
	},
	{
		id: "signed-truncation-proofs",
		cases: []string{"nothere.nsec3./A/do512/udp", "nothere.optout./A/do512/udp", "insecure.optout./DS/do512/udp",
			"x.wild.nsec3./MX/do512/udp", "x.wild.optout./MX/do512/udp"},
		follow: "nsd",
		ignore: []string{fAuthority},
		rfc:    "RFC 2181 §9 (a truncated response is retried over TCP; its partial sections are not used)",
		why: "NSEC3 negative answers that do not fit in 512 octets: all set TC, and each server keeps a " +
			"different part of the authority section (NSD writes an NXDOMAIN's proofs before the SOA, Knot " +
			"drops their signatures). tapdns sends the SOA with its signature and then the proofs that " +
			"fit, each with its signatures, and sets TC; the client retries over TCP and gets them all " +
			"(the TCP cases compare them in full). The rest of the answer is compared.",
	},
	{
		id:     "nsec3-wildcard-owner",
		cases:  []string{`\*.wild.nsec3./MX/*`, `\*.wild.optout./MX/*`},
		follow: "knot",
		rfc:    "RFC 5155 §7.2.3 (NODATA: the NSEC3 RR that matches QNAME)",
		why: "A query for a type the wildcard lacks, asked for the wildcard's own name (*.wild): Knot " +
			"answers with the NSEC3 record that matches the name, as for any name without that type; NSD " +
			"adds another NSEC3 record, as if the wildcard had been used to answer. tapdns follows Knot: " +
			"the name exists, so the wildcard rules do not apply.",
	},
}
