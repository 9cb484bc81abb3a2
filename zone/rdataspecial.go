package zone

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Record types whose rdata text is more than a list of simple fields.

// peekIs reports whether the next token is one of the words (any case).
func (p *fieldParser) peekIs(words ...string) bool {
	if p.i >= len(p.toks) || p.toks[p.i].quoted {
		return false
	}
	w := p.s.tok(p.toks[p.i])
	for _, x := range words {
		if asciiEqualFold(w, x) {
			return true
		}
	}
	return false
}

// decimal parses a decimal number with at most frac fraction digits,
// scaled by 10^frac, with an optional sign when signed and an optional
// unit suffix ("m" for LOC).
func decimal(w []byte, frac int, signed bool, suffix byte) (int64, bool) {
	if suffix != 0 && len(w) > 0 && w[len(w)-1]|0x20 == suffix {
		w = w[:len(w)-1]
	}
	neg := false
	if signed && len(w) > 0 && (w[0] == '-' || w[0] == '+') {
		neg = w[0] == '-'
		w = w[1:]
	}
	var v int64
	digits, fd := 0, -1
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9':
			if fd >= 0 {
				if fd == frac {
					return 0, false
				}
				fd++
			}
			v = v*10 + int64(c-'0')
			digits++
			if v > 1<<40 {
				return 0, false
			}
		case c == '.' && fd < 0 && frac > 0:
			fd = 0
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	for fd = max(fd, 0); fd < frac; fd++ {
		v *= 10
	}
	if neg {
		v = -v
	}
	return v, true
}

// loc parses RFC 1876 section 3 text:
// d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]].
func (p *fieldParser) loc() error {
	coord := func(maxDeg int64, pos, neg string) (uint32, error) {
		w, err := p.next("degrees")
		if err != nil {
			return 0, err
		}
		d, ok := atou(w, uint64(maxDeg))
		if !ok {
			return 0, p.bad(fmt.Sprintf("degrees from 0 to %d", maxDeg), nil)
		}
		var m, s int64
		if !p.peekIs(pos, neg) {
			w, err := p.next("minutes")
			if err != nil {
				return 0, err
			}
			v, ok := atou(w, 59)
			if !ok {
				return 0, p.bad("minutes from 0 to 59", nil)
			}
			m = int64(v)
			if !p.peekIs(pos, neg) {
				w, err := p.next("seconds")
				if err != nil {
					return 0, err
				}
				if s, ok = decimal(w, 3, false, 0); !ok || s >= 60000 {
					return 0, p.bad("seconds from 0 to 59.999", nil)
				}
			}
		}
		h, err := p.next(pos + " or " + neg)
		if err != nil {
			return 0, err
		}
		v := ((int64(d)*60+m)*60)*1000 + s
		if v > maxDeg*3600000 {
			return 0, p.bad(fmt.Sprintf("within %d degrees", maxDeg), nil)
		}
		switch {
		case asciiEqualFold(h, pos):
			return uint32(1<<31 + v), nil
		case asciiEqualFold(h, neg):
			return uint32(1<<31 - v), nil
		}
		return 0, p.bad(pos+" or "+neg, nil)
	}
	lat, err := coord(90, "N", "S")
	if err != nil {
		return err
	}
	lon, err := coord(180, "E", "W")
	if err != nil {
		return err
	}
	w, err := p.next("an altitude")
	if err != nil {
		return err
	}
	alt, ok := decimal(w, 2, true, 'm')
	if !ok || alt < -10000000 || alt > 4284967295 {
		return p.bad("an altitude in meters from -100000.00 to 42849672.95", nil)
	}
	prec := [3]int64{100, 1000000, 1000} // size 1m, horizontal 10000m, vertical 10m, in cm
	for k := range prec {
		if p.i >= len(p.toks) {
			break
		}
		w, _ := p.next("a precision")
		v, ok := decimal(w, 2, false, 'm')
		if !ok || v > 9000000000 {
			return p.bad("a size or precision in meters from 0 to 90000000.00", nil)
		}
		prec[k] = v
	}
	p.put8(0) // version
	for _, v := range prec {
		p.put8(uint64(precision(v)))
	}
	p.put32(uint64(lat))
	p.put32(uint64(lon))
	p.put32(uint64(alt + 10000000))
	return nil
}

// precision encodes centimeters as RFC 1876's mantissa and power of ten.
func precision(cm int64) byte {
	e := 0
	pow := int64(1)
	for e < 9 && cm >= pow*10 {
		pow *= 10
		e++
	}
	m := cm / pow
	if m > 9 {
		m = 9
	}
	return byte(m)<<4 | byte(e)
}

// apl parses RFC 3123 items: [!]afi:address/prefix.
func (p *fieldParser) apl() error {
	for p.i < len(p.toks) {
		w, _ := p.next("an APL item")
		item := w
		neg := false
		if len(item) > 0 && item[0] == '!' {
			neg, item = true, item[1:]
		}
		colon := bytes.IndexByte(item, ':')
		slash := bytes.LastIndexByte(item, '/')
		if colon < 0 || slash < colon {
			return p.bad("an APL item ([!]afi:address/prefix)", nil)
		}
		fam, ok := atou(item[:colon], 0xffff)
		if !ok {
			return p.bad("an APL item: bad address family", nil)
		}
		var addr []byte
		var maxPrefix uint64
		switch fam {
		case 1:
			a, ok := parseIPv4(item[colon+1 : slash])
			if !ok {
				return p.bad("an APL item: bad IPv4 address", nil)
			}
			addr, maxPrefix = a[:], 32
		case 2:
			a, ok := parseIPv6(item[colon+1 : slash])
			if !ok {
				return p.bad("an APL item: bad IPv6 address", nil)
			}
			addr, maxPrefix = a[:], 128
		default:
			return p.bad("an APL item: the address family must be 1 (IPv4) or 2 (IPv6)", nil)
		}
		prefix, ok := atou(item[slash+1:], maxPrefix)
		if !ok {
			return p.bad(fmt.Sprintf("an APL item: the prefix length must be 0 to %d", maxPrefix), nil)
		}
		for len(addr) > 0 && addr[len(addr)-1] == 0 {
			addr = addr[:len(addr)-1]
		}
		p.put16(fam)
		p.put8(prefix)
		n := uint64(len(addr))
		if neg {
			n |= 0x80
		}
		p.put8(n)
		p.s.rd = append(p.s.rd, addr...)
	}
	return nil
}

// Protocols and services WKS records may name (the common entries of
// /etc/services; numbers work for any).
var (
	wksProtocols = map[string]uint8{"ICMP": 1, "IGMP": 2, "TCP": 6, "UDP": 17}
	wksServices  = map[string]uint16{
		"TCPMUX": 1, "ECHO": 7, "DISCARD": 9, "SYSTAT": 11, "DAYTIME": 13, "NETSTAT": 15, "QOTD": 17,
		"CHARGEN": 19, "FTP-DATA": 20, "FTP": 21, "SSH": 22, "TELNET": 23, "SMTP": 25, "TIME": 37,
		"NAMESERVER": 42, "WHOIS": 43, "NICNAME": 43, "TACACS": 49, "DOMAIN": 53, "BOOTPS": 67,
		"BOOTPC": 68, "TFTP": 69, "GOPHER": 70, "FINGER": 79, "HTTP": 80, "WWW": 80, "KERBEROS": 88,
		"SUPDUP": 95, "HOSTNAMES": 101, "ISO-TSAP": 102, "POP2": 109, "POP3": 110, "SUNRPC": 111,
		"AUTH": 113, "IDENT": 113, "SFTP": 115, "UUCP-PATH": 117, "NNTP": 119, "NTP": 123,
		"NETBIOS-NS": 137, "NETBIOS-DGM": 138, "NETBIOS-SSN": 139, "IMAP": 143, "IMAP2": 143,
		"SNMP": 161, "SNMP-TRAP": 162, "XDMCP": 177, "BGP": 179, "IRC": 194, "LDAP": 389,
		"HTTPS": 443, "MICROSOFT-DS": 445, "KPASSWD": 464, "SUBMISSIONS": 465, "SYSLOG": 514,
		"PRINTER": 515, "SUBMISSION": 587, "LDAPS": 636, "RSYNC": 873, "FTPS": 990, "TELNETS": 992,
		"IMAPS": 993, "POP3S": 995,
	}
)

// wks parses RFC 1035 section 3.4.2 text: address protocol services...
func (p *fieldParser) wks() error {
	if err := p.field(kA); err != nil {
		return err
	}
	w, err := p.next("a protocol")
	if err != nil {
		return err
	}
	proto, ok := atou(w, 0xff)
	if !ok {
		var buf [8]byte
		v, known := wksProtocols[string(upper(buf[:0], w))]
		if !known || len(w) > 8 {
			return p.bad("a protocol (a number, TCP or UDP)", nil)
		}
		proto = uint64(v)
	}
	p.put8(proto)
	var bits [8192]byte
	n := 0
	for p.i < len(p.toks) {
		w, _ := p.next("a service")
		port, ok := atou(w, 0xffff)
		if !ok {
			var buf [16]byte
			v, known := wksServices[string(upper(buf[:0], w))]
			if !known || len(w) > 16 {
				return p.bad("a port number or a well-known service name", nil)
			}
			port = uint64(v)
		}
		bits[port>>3] |= 0x80 >> (port & 7)
		n = max(n, int(port>>3)+1)
	}
	p.s.rd = append(p.s.rd, bits[:n]...)
	return nil
}

// gateway parses the gateway or relay of IPSECKEY (RFC 4025 section 3)
// and AMTRELAY (RFC 8777 section 4) of type gw.
func (p *fieldParser) gateway(gw uint64) error {
	switch gw {
	case 0:
		w, err := p.next("the gateway \".\"")
		if err != nil {
			return err
		}
		if string(w) != "." {
			return p.bad("\".\" (type 0 has no gateway)", nil)
		}
		return nil
	case 1:
		return p.field(kA)
	case 2:
		return p.field(kAAAA)
	case 3:
		return p.name()
	}
	return p.errAt(p.i-1, "gateway type %d is not 0, 1, 2 or 3", gw)
}

// ipseckey parses RFC 4025 text: precedence type algorithm gateway [key].
func (p *fieldParser) ipseckey() error {
	prec, err := p.u("a precedence from 0 to 255", 0xff)
	if err != nil {
		return err
	}
	gw, err := p.u("a gateway type from 0 to 3", 3)
	if err != nil {
		return err
	}
	alg, err := p.u("an algorithm from 0 to 255", 0xff)
	if err != nil {
		return err
	}
	p.put8(prec)
	p.put8(gw)
	p.put8(alg)
	if err := p.gateway(gw); err != nil {
		return err
	}
	if p.i < len(p.toks) {
		first := p.i
		if err := p.base64(p.rest()); err != nil {
			return p.errAt(first, "bad base64 public key: %v", err)
		}
	}
	return nil
}

// amtrelay parses RFC 8777 text: precedence D-bit type relay.
func (p *fieldParser) amtrelay() error {
	prec, err := p.u("a precedence from 0 to 255", 0xff)
	if err != nil {
		return err
	}
	d, err := p.u("the discovery optional bit, 0 or 1", 1)
	if err != nil {
		return err
	}
	typ, err := p.u("a relay type from 0 to 3", 3)
	if err != nil {
		return err
	}
	p.put8(prec)
	p.put8(d<<7 | typ)
	return p.gateway(typ)
}

// hip parses RFC 8005 text: algorithm HIT public-key [servers...].
func (p *fieldParser) hip() error {
	alg, err := p.u("a public key algorithm from 0 to 255", 0xff)
	if err != nil {
		return err
	}
	w, err := p.next("a HIT in hex")
	if err != nil {
		return err
	}
	at := len(p.s.rd)
	p.put8(0)
	p.put8(alg)
	p.put16(0)
	if err := p.hex(w); err != nil {
		return p.bad("a HIT in hex", err)
	}
	hit := len(p.s.rd) - at - 4
	if hit == 0 || hit > 255 {
		return p.bad("a HIT of 1 to 255 octets", nil)
	}
	w, err = p.next("a public key in base64")
	if err != nil {
		return err
	}
	if err := p.base64(w); err != nil {
		return p.bad("a public key in base64", err)
	}
	pk := len(p.s.rd) - at - 4 - hit
	if pk > 0xffff {
		return p.bad("a public key of at most 65535 octets", nil)
	}
	p.s.rd[at] = byte(hit)
	p.s.rd[at+2], p.s.rd[at+3] = byte(pk>>8), byte(pk)
	for p.i < len(p.toks) {
		if err := p.name(); err != nil {
			return err
		}
	}
	return nil
}

// SvcParamKeys (RFC 9460 section 14.3.2).
var svcKeys = []string{"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"}

// svcKey parses a key name or keyNNNNN.
func svcKey(w []byte) (uint16, bool) {
	for i, k := range svcKeys {
		if string(w) == k {
			return uint16(i), true
		}
	}
	if len(w) > 3 && string(w[:3]) == "key" {
		if len(w) > 4 && w[3] == '0' {
			return 0, false // no leading zeros
		}
		if v, ok := atou(w[3:], 65534); ok {
			return uint16(v), true
		}
	}
	return 0, false
}

// svcParam is one parsed parameter: its key and wire value in a buffer.
type svcParam struct {
	key        uint16
	start, end int
}

// svcParams parses the SvcParams of SVCB and HTTPS (RFC 9460 section
// 2.1): key or key=value, a value possibly quoted, in any order; the
// wire form sorts them by key.
func (p *fieldParser) svcParams() error {
	var params []svcParam
	buf := p.s.scratch[:0]
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		w, _ := p.next("a service parameter")
		if t.quoted {
			return p.bad("a service parameter (key=value)", nil)
		}
		name, value, hasValue := bytes.Cut(w, []byte("="))
		if hasValue && len(value) == 0 && p.i < len(p.toks) && p.toks[p.i].quoted && p.toks[p.i].line == t.line {
			value = p.s.tok(p.toks[p.i]) // key="value"
			p.i++
		}
		key, ok := svcKey(name)
		if !ok {
			return p.errAt(p.i-1, "unknown service parameter key %s", tokText(name))
		}
		start := len(buf)
		var err error
		buf, err = svcValue(buf, key, value, hasValue)
		if err != nil {
			return p.errAt(p.i-1, "bad value for %s: %v", name, err)
		}
		params = append(params, svcParam{key, start, len(buf)})
	}
	p.s.scratch = buf
	slices.SortFunc(params, func(a, b svcParam) int { return int(a.key) - int(b.key) })
	for i := 1; i < len(params); i++ {
		if params[i].key == params[i-1].key {
			return p.errAt(p.i-1, "service parameter %s given twice", svcKeyText(params[i].key))
		}
	}
	// RFC 9460 section 8: keys listed as mandatory must be present.
	if len(params) > 0 && params[0].key == 0 {
		m := buf[params[0].start:params[0].end]
		for i := 0; i+1 < len(m); i += 2 {
			k := uint16(m[i])<<8 | uint16(m[i+1])
			if !slices.ContainsFunc(params, func(x svcParam) bool { return x.key == k }) {
				return p.errAt(p.i-1, "mandatory lists %s, which is not given", svcKeyText(k))
			}
		}
	}
	for _, x := range params {
		p.put16(uint64(x.key))
		p.put16(uint64(x.end - x.start))
		p.s.rd = append(p.s.rd, buf[x.start:x.end]...)
	}
	return nil
}

func svcKeyText(k uint16) string {
	if int(k) < len(svcKeys) {
		return svcKeys[k]
	}
	return fmt.Sprintf("key%d", k)
}

// splitList splits a comma-separated value list (RFC 9460 appendix A.1),
// escapes resolved, calling f for each item.
func splitList(v []byte, f func(item []byte) error) error {
	var item []byte
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			if len(item) == 0 {
				return errors.New("empty item in a list")
			}
			if err := f(item); err != nil {
				return err
			}
			item = item[:0]
			continue
		}
		c := v[i]
		if c == '\\' {
			b, n, err := unescape(v[i:])
			if err != nil {
				return err
			}
			c = b
			i += n - 1
		}
		item = append(item, c)
	}
	return nil
}

// svcValue appends the wire value of one parameter.
func svcValue(buf []byte, key uint16, value []byte, hasValue bool) ([]byte, error) {
	needValue := func() error {
		if !hasValue || len(value) == 0 {
			return errors.New("a value is required")
		}
		return nil
	}
	switch key {
	case 0: // mandatory
		if err := needValue(); err != nil {
			return buf, err
		}
		var keys []uint16
		err := splitList(value, func(item []byte) error {
			k, ok := svcKey(item)
			if !ok {
				return fmt.Errorf("unknown key %s", tokText(item))
			}
			if k == 0 {
				return errors.New("mandatory cannot list itself")
			}
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return buf, err
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 && keys[i-1] == k {
				return buf, fmt.Errorf("%s listed twice", svcKeyText(k))
			}
			buf = append(buf, byte(k>>8), byte(k))
		}
	case 1: // alpn
		if err := needValue(); err != nil {
			return buf, err
		}
		err := splitList(value, func(item []byte) error {
			if len(item) > 255 {
				return errors.New("an ALPN identifier longer than 255 octets")
			}
			buf = append(buf, byte(len(item)))
			buf = append(buf, item...)
			return nil
		})
		if err != nil {
			return buf, err
		}
	case 2, 8: // no-default-alpn, ohttp
		if hasValue {
			return buf, errors.New("this key takes no value")
		}
	case 3: // port
		if err := needValue(); err != nil {
			return buf, err
		}
		v, ok := atou(value, 0xffff)
		if !ok {
			return buf, errors.New("not a port number")
		}
		buf = append(buf, byte(v>>8), byte(v))
	case 4, 6: // ipv4hint, ipv6hint
		if err := needValue(); err != nil {
			return buf, err
		}
		err := splitList(value, func(item []byte) error {
			if key == 4 {
				a, ok := parseIPv4(item)
				if !ok {
					return fmt.Errorf("%s is not an IPv4 address", tokText(item))
				}
				buf = append(buf, a[:]...)
			} else {
				a, ok := parseIPv6(item)
				if !ok {
					return fmt.Errorf("%s is not an IPv6 address", tokText(item))
				}
				buf = append(buf, a[:]...)
			}
			return nil
		})
		if err != nil {
			return buf, err
		}
	case 5: // ech
		if err := needValue(); err != nil {
			return buf, err
		}
		dec := make([]byte, len(value))
		n, err := base64Decode(dec, value)
		if err != nil {
			return buf, err
		}
		buf = append(buf, dec[:n]...)
	default: // dohpath and keyNNNNN: the value as it is, escapes resolved
		var err error
		if buf, err = appendText(buf, value); err != nil {
			return buf, err
		}
	}
	return buf, nil
}
