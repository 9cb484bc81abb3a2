package zone

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Presentation-format rdata: each field kind of types.go read from
// tokens into wire form.

// fieldParser parses the rdata of one record.
type fieldParser struct {
	s    *scanner
	typ  uint16
	toks []token
	i    int
	line uint32 // of the record, for warnings
}

// rdata parses the rdata tokens of a record of type t into s.rd.
func (s *scanner) rdata(t uint16, toks []token, line uint32) ([]byte, error) {
	s.rd = s.rd[:0]
	d := types[t]
	p := &fieldParser{s: s, typ: t, toks: toks, line: line}
	if len(toks) > 0 && !toks[0].quoted && string(s.tok(toks[0])) == `\#` {
		return p.generic()
	}
	switch {
	case d != nil && d.meta:
		return nil, p.errAt(0, "%s is a meta type (RFC 6895) and cannot be in a zone", d.name)
	case d == nil || d.fields == nil:
		return nil, p.errAt(0, "%s has no text format here: give its rdata as \\# LENGTH HEX (RFC 3597)", TypeText(t))
	}
	for _, f := range d.fields {
		if err := p.field(f); err != nil {
			return nil, err
		}
	}
	if p.i < len(toks) {
		return nil, p.errAt(p.i, "unexpected %s after the last field", tokText(s.tok(toks[p.i])))
	}
	if len(s.rd) > 0xffff {
		return nil, p.errAt(0, "record data is %d octets long; at most 65535 fit", len(s.rd))
	}
	return s.rd, nil
}

// errAt reports a problem with token i (or the last one, or the record's
// line when there are none).
func (p *fieldParser) errAt(i int, format string, args ...any) error {
	line := p.line
	if i < len(p.toks) {
		line = p.toks[i].line
	} else if len(p.toks) > 0 {
		line = p.toks[len(p.toks)-1].line
	}
	return &syntaxError{line: line, msg: "bad " + TypeText(p.typ) + " record: " + fmt.Sprintf(format, args...)}
}

// next returns the next token, or an error naming what was expected.
func (p *fieldParser) next(what string) ([]byte, error) {
	if p.i >= len(p.toks) {
		return nil, p.errAt(p.i, "missing %s", what)
	}
	w := p.s.tok(p.toks[p.i])
	p.i++
	return w, nil
}

// bad reports that the token just read is not what was expected.
func (p *fieldParser) bad(what string, err error) error {
	w := p.s.tok(p.toks[p.i-1])
	if err != nil {
		return p.errAt(p.i-1, "%s is not %s: %v", tokText(w), what, err)
	}
	return p.errAt(p.i-1, "%s is not %s", tokText(w), what)
}

// rest joins the remaining tokens (base64 and hex may be split by
// blanks) into s.scratch.
func (p *fieldParser) rest() []byte {
	buf := p.s.scratch[:0]
	for ; p.i < len(p.toks); p.i++ {
		buf = append(buf, p.s.tok(p.toks[p.i])...)
	}
	p.s.scratch = buf
	return buf
}

func (p *fieldParser) u(what string, max uint64) (uint64, error) {
	w, err := p.next(what)
	if err != nil {
		return 0, err
	}
	v, ok := atou(w, max)
	if !ok {
		return 0, p.bad(what, nil)
	}
	return v, nil
}

func (p *fieldParser) put8(v uint64)  { p.s.rd = append(p.s.rd, byte(v)) }
func (p *fieldParser) put16(v uint64) { p.s.rd = append(p.s.rd, byte(v>>8), byte(v)) }
func (p *fieldParser) put32(v uint64) {
	p.s.rd = append(p.s.rd, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// field parses one field.
func (p *fieldParser) field(f kind) error {
	s := p.s
	switch f {
	case kName:
		return p.name()
	case kU8:
		v, err := p.u("a number from 0 to 255", 0xff)
		p.put8(v)
		return err
	case kU16:
		v, err := p.u("a number from 0 to 65535", 0xffff)
		p.put16(v)
		return err
	case kU32:
		v, err := p.u("a number from 0 to 4294967295", 1<<32-1)
		p.put32(v)
		return err
	case kAlg:
		w, err := p.next("an algorithm")
		if err != nil {
			return err
		}
		v, ok := atou(w, 0xff)
		if !ok {
			var buf [32]byte
			a, known := algorithms[string(upper(buf[:0], w))]
			if !known || len(w) > 32 {
				return p.bad("an algorithm number or mnemonic (such as 8 or RSASHA256)", nil)
			}
			v = uint64(a)
		}
		p.put8(v)
		return nil
	case kCert:
		w, err := p.next("a certificate type")
		if err != nil {
			return err
		}
		v, ok := atou(w, 0xffff)
		if !ok {
			var buf [16]byte
			c, known := certTypes[string(upper(buf[:0], w))]
			if !known || len(w) > 16 {
				return p.bad("a certificate type number or mnemonic (such as PKIX)", nil)
			}
			v = uint64(c)
		}
		p.put16(v)
		return nil
	case kType:
		w, err := p.next("a record type")
		if err != nil {
			return err
		}
		t, ok := parseType(w)
		if !ok {
			return p.bad("a record type", nil)
		}
		p.put16(uint64(t))
		return nil
	case kPeriod:
		w, err := p.next("a time in seconds")
		if err != nil {
			return err
		}
		v, err := parseTTL(w)
		if err != nil {
			return p.bad("a time in seconds (or with units, such as 1h)", err)
		}
		p.put32(uint64(v))
		return nil
	case kTime:
		w, err := p.next("a time")
		if err != nil {
			return err
		}
		v, err := parseSigTime(w)
		if err != nil {
			return p.bad("a time (YYYYMMDDHHmmSS, or seconds since 1970)", err)
		}
		p.put32(uint64(v))
		return nil
	case kA:
		w, err := p.next("an IPv4 address")
		if err != nil {
			return err
		}
		a, ok := parseIPv4(w)
		if !ok {
			return p.bad("an IPv4 address", nil)
		}
		s.rd = append(s.rd, a[:]...)
		return nil
	case kAAAA:
		w, err := p.next("an IPv6 address")
		if err != nil {
			return err
		}
		a, ok := parseIPv6(w)
		if !ok {
			return p.bad("an IPv6 address", nil)
		}
		s.rd = append(s.rd, a[:]...)
		return nil
	case kStr:
		return p.str(false)
	case kOptStr:
		if p.i < len(p.toks) {
			return p.str(false)
		}
		return nil
	case kStrs:
		if p.i >= len(p.toks) {
			return p.errAt(p.i, "missing text: give at least one string")
		}
		for p.i < len(p.toks) {
			if err := p.str(true); err != nil {
				return err
			}
		}
		return nil
	case kFloat:
		if err := p.str(false); err != nil {
			return err
		}
		if !isDecimal(s.tok(p.toks[p.i-1])) {
			return p.bad("a decimal number", nil)
		}
		return nil
	case kTag:
		w, err := p.next("a tag")
		if err != nil {
			return err
		}
		if len(w) == 0 || len(w) > 255 || !isAlnum(w) {
			return p.bad("a tag of letters and digits", nil)
		}
		p.put8(uint64(len(w)))
		s.rd = append(s.rd, w...)
		return nil
	case kText:
		w, err := p.next("a string")
		if err != nil {
			return err
		}
		if s.rd, err = appendText(s.rd, w); err != nil {
			return p.bad("a string", err)
		}
		return nil
	case kB64:
		if p.i >= len(p.toks) {
			return p.errAt(p.i, "missing base64 data")
		}
		first := p.i
		if err := p.base64(p.rest()); err != nil {
			return p.errAt(first, "bad base64 data: %v", err)
		}
		return nil
	case kHex, kHexOpt:
		if p.i >= len(p.toks) {
			if f == kHexOpt {
				return nil
			}
			return p.errAt(p.i, "missing hex data")
		}
		first := p.i
		if err := p.hex(p.rest()); err != nil {
			return p.errAt(first, "bad hex data: %v", err)
		}
		return nil
	case kSalt:
		w, err := p.next("a salt")
		if err != nil {
			return err
		}
		if len(w) == 1 && w[0] == '-' {
			p.put8(0)
			return nil
		}
		at := len(s.rd)
		p.put8(0)
		if err := p.hex(w); err != nil {
			return p.bad("a salt in hex (or - for none)", err)
		}
		if n := len(s.rd) - at - 1; n > 255 {
			return p.bad("a salt of at most 255 octets", nil)
		} else {
			s.rd[at] = byte(n)
		}
		return nil
	case kHash:
		w, err := p.next("a hashed owner name")
		if err != nil {
			return err
		}
		at := len(s.rd)
		p.put8(0)
		buf := upper(s.scratch[:0], w)
		s.scratch = buf
		n := base32hex.DecodedLen(len(buf))
		s.rd = growBy(s.rd, n)
		m, err := base32hex.Decode(s.rd[len(s.rd)-n:], buf)
		if err != nil || m == 0 || m > 255 {
			return p.bad("a hash in base32hex", err)
		}
		s.rd = s.rd[:len(s.rd)-n+m]
		s.rd[at] = byte(m)
		return nil
	case kBitmap:
		return p.bitmap()
	case kEUI48, kEUI64:
		n := 6
		if f == kEUI64 {
			n = 8
		}
		w, err := p.next("an EUI address")
		if err != nil {
			return err
		}
		if !p.eui(w, n) {
			return p.bad(fmt.Sprintf("an EUI-%d address (%d hex pairs joined by -)", n*8, n), nil)
		}
		return nil
	case kILNP64:
		w, err := p.next("a locator")
		if err != nil {
			return err
		}
		if !p.ilnp64(w) {
			return p.bad("a 64-bit locator (four groups of hex digits joined by :)", nil)
		}
		return nil
	case kNSAP:
		w, err := p.next("an NSAP address")
		if err != nil {
			return err
		}
		if !p.nsap(w) {
			return p.bad("an NSAP address (0x and hex digits)", nil)
		}
		return nil
	case kLOC:
		return p.loc()
	case kAPL:
		return p.apl()
	case kWKS:
		return p.wks()
	case kIPSECKEY:
		return p.ipseckey()
	case kAMTRELAY:
		return p.amtrelay()
	case kSVCB:
		return p.svcParams()
	case kHIP:
		return p.hip()
	case kNXT:
		if err := p.name(); err != nil {
			return err
		}
		return p.nxtBitmap()
	}
	return p.errAt(p.i, "internal error: unknown field kind %d", f)
}

var base32hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// growBy extends b by n bytes.
func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func (p *fieldParser) name() error {
	if p.i >= len(p.toks) {
		return p.errAt(p.i, "missing domain name")
	}
	t := p.toks[p.i]
	p.i++
	if t.quoted {
		return p.errAt(p.i-1, "a domain name cannot be quoted: %s", tokText(p.s.tok(t)))
	}
	rd, err := appendName(p.s.rd, p.s.tok(t), p.s.origin)
	if err != nil {
		if errors.Is(err, errNoOrigin) {
			return &syntaxError{line: t.line, err: errNoOrigin,
				msg: fmt.Sprintf("bad %s record: relative name %s, but %s: put $ORIGIN before this line or give the zone's origin", TypeText(p.typ), tokText(p.s.tok(t)), errNoOrigin)}
		}
		return p.errAt(p.i-1, "bad domain name %s: %v", tokText(p.s.tok(t)), err)
	}
	p.s.rd = rd
	return nil
}

// str parses one character-string. Over 255 octets is an error, except
// for the text of TXT-like records (split), where it is split into
// strings of 255 with a warning, as Knot DNS does (NSD rejects it).
func (p *fieldParser) str(split bool) error {
	s := p.s
	w, err := p.next("a character string")
	if err != nil {
		return err
	}
	at := len(s.rd)
	p.put8(0)
	if s.rd, err = appendText(s.rd, w); err != nil {
		return p.bad("a character string", err)
	}
	n := len(s.rd) - at - 1
	if n <= 255 {
		s.rd[at] = byte(n)
		return nil
	}
	if !split {
		return p.errAt(p.i-1, "string of %d octets; a character string has at most 255", n)
	}
	s.b.warn(s.in.file, p.toks[p.i-1].line, "%s string of %d octets split into strings of at most 255 (NSD rejects it: split it into several quoted strings)", TypeText(p.typ), n)
	text := append(s.scratch[:0], s.rd[at+1:]...)
	s.scratch = text
	s.rd = s.rd[:at]
	for len(text) > 0 {
		c := min(len(text), 255)
		p.put8(uint64(c))
		s.rd = append(s.rd, text[:c]...)
		text = text[c:]
	}
	return nil
}

// base64Decode decodes base64 with or without padding into dst, which
// must hold DecodedLen(len(src)) octets.
func base64Decode(dst, src []byte) (int, error) {
	m, err := base64.StdEncoding.Decode(dst, src)
	if err != nil && len(src)%4 != 0 {
		m, err = base64.RawStdEncoding.Decode(dst, src)
	}
	return m, err
}

func (p *fieldParser) base64(src []byte) error {
	s := p.s
	n := base64.StdEncoding.DecodedLen(len(src)) + 3
	s.rd = growBy(s.rd, n)
	m, err := base64Decode(s.rd[len(s.rd)-n:], src)
	if err != nil {
		s.rd = s.rd[:len(s.rd)-n]
		return err
	}
	s.rd = s.rd[:len(s.rd)-n+m]
	return nil
}

func (p *fieldParser) hex(src []byte) error {
	s := p.s
	if len(src)%2 != 0 {
		return errors.New("odd number of hex digits")
	}
	n := len(src) / 2
	s.rd = growBy(s.rd, n)
	if _, err := hex.Decode(s.rd[len(s.rd)-n:], src); err != nil {
		s.rd = s.rd[:len(s.rd)-n]
		return err
	}
	return nil
}

// bitmap parses the record types that end an NSEC, NSEC3 or CSYNC record,
// in any order, into an RFC 4034 section 4.1.2 type bit map.
func (p *fieldParser) bitmap() error {
	var bits [8192]byte
	var windows [256]bool
	any := false
	for p.i < len(p.toks) {
		w, _ := p.next("a record type")
		t, ok := parseType(w)
		if !ok {
			return p.bad("a record type", nil)
		}
		bits[t>>3] |= 0x80 >> (t & 7)
		windows[t>>8] = true
		any = true
	}
	if !any {
		return nil
	}
	for win := range 256 {
		if !windows[win] {
			continue
		}
		block := bits[win*32 : win*32+32]
		n := 32
		for n > 0 && block[n-1] == 0 {
			n--
		}
		p.put8(uint64(win))
		p.put8(uint64(n))
		p.s.rd = append(p.s.rd, block[:n]...)
	}
	return nil
}

// nxtBitmap parses the types of an NXT record into an RFC 2535 section
// 5.2 bit map: bit n for type n, types 1 to 127.
func (p *fieldParser) nxtBitmap() error {
	var bits [16]byte
	n := 0
	for p.i < len(p.toks) {
		w, _ := p.next("a record type")
		t, ok := parseType(w)
		if !ok || t == 0 || t > 127 {
			return p.bad("a record type from 1 to 127", nil)
		}
		bits[t>>3] |= 0x80 >> (t & 7)
		n = max(n, int(t>>3)+1)
	}
	p.s.rd = append(p.s.rd, bits[:n]...)
	return nil
}

// generic parses RFC 3597 rdata: \# LENGTH HEX...
func (p *fieldParser) generic() ([]byte, error) {
	s := p.s
	p.i = 1
	l, err := p.u("the rdata length (RFC 3597: \\# LENGTH HEX)", 0xffff)
	if err != nil {
		return nil, err
	}
	first := p.i
	if err := p.hex(p.rest()); err != nil {
		return nil, p.errAt(first, "bad hex data after \\# %d: %v", l, err)
	}
	if uint64(len(s.rd)) != l {
		return nil, p.errAt(first, "\\# %d announces %d octets but %d follow", l, l, len(s.rd))
	}
	if d := types[p.typ]; d != nil && d.meta {
		return nil, p.errAt(0, "%s is a meta type (RFC 6895) and cannot be in a zone", d.name)
	}
	if err := checkRdata(p.typ, s.rd); err != nil {
		return nil, p.errAt(0, "the \\# data is not a valid %s record: %v", TypeText(p.typ), err)
	}
	return s.rd, nil
}

// parseSigTime parses an RRSIG time: YYYYMMDDHHmmSS (UTC, taken modulo
// 2^32 as RFC 4034 section 3.1.5 says) or decimal seconds.
func parseSigTime(w []byte) (uint32, error) {
	if len(w) == 14 {
		if _, ok := atou(w, 1<<63); !ok {
			return 0, errors.New("not a number")
		}
		n := func(a, b int) int { v, _ := atou(w[a:b], 1<<20); return int(v) }
		y, mo, d, h, mi, sec := n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14)
		if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
			return 0, errors.New("not a valid date and time")
		}
		t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
		if t.Day() != d {
			return 0, errors.New("not a valid date")
		}
		return uint32(t.Unix()), nil
	}
	v, ok := atou(w, 1<<32-1)
	if !ok {
		return 0, errors.New("neither 14 digits nor a number of seconds")
	}
	return uint32(v), nil
}

// parseIPv4 parses a dotted-quad IPv4 address; leading zeros are
// rejected, as inet_pton does.
func parseIPv4(w []byte) ([4]byte, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(w) || w[i] != '.' {
				return a, false
			}
			i++
		}
		v, n := 0, 0
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			if n > 0 && v == 0 {
				return a, false // leading zero
			}
			v = v*10 + int(w[i]-'0')
			n++
			i++
			if v > 255 {
				return a, false
			}
		}
		if n == 0 {
			return a, false
		}
		a[k] = byte(v)
	}
	return a, i == len(w)
}

// parseIPv6 parses an RFC 4291 section 2.2 IPv6 address (an IPv4 tail
// allowed; no zone).
func parseIPv6(w []byte) ([16]byte, bool) {
	var a [16]byte
	ellipsis := -1
	i, k := 0, 0
	switch {
	case len(w) >= 2 && w[0] == ':' && w[1] == ':':
		ellipsis, i = 0, 2
	case len(w) >= 1 && w[0] == ':':
		return a, false
	}
	for i < len(w) {
		j := i
		for j < len(w) && w[j] != ':' && w[j] != '.' {
			j++
		}
		if j < len(w) && w[j] == '.' { // an IPv4 tail
			if k > 12 {
				return a, false
			}
			v4, ok := parseIPv4(w[i:])
			if !ok {
				return a, false
			}
			copy(a[k:], v4[:])
			k += 4
			break
		}
		if k == 16 || j-i == 0 || j-i > 4 {
			return a, false
		}
		v := 0
		for ; i < j; i++ {
			d, ok := hexVal(w[i])
			if !ok {
				return a, false
			}
			v = v<<4 | int(d)
		}
		a[k], a[k+1] = byte(v>>8), byte(v)
		k += 2
		if i == len(w) {
			break
		}
		i++ // the colon
		if i < len(w) && w[i] == ':' {
			if ellipsis >= 0 {
				return a, false
			}
			ellipsis = k
			i++
		} else if i == len(w) {
			return a, false // a trailing single colon
		}
	}
	if ellipsis < 0 {
		return a, k == 16
	}
	if k == 16 {
		return a, false // :: stands for at least one group
	}
	n := 16 - k
	copy(a[ellipsis+n:], a[ellipsis:k])
	clear(a[ellipsis : ellipsis+n])
	return a, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// eui parses n hex pairs joined by '-'.
func (p *fieldParser) eui(w []byte, n int) bool {
	if len(w) != 3*n-1 {
		return false
	}
	for k := range n {
		if k > 0 && w[3*k-1] != '-' {
			return false
		}
		h, ok1 := hexVal(w[3*k])
		l, ok2 := hexVal(w[3*k+1])
		if !ok1 || !ok2 {
			return false
		}
		p.s.rd = append(p.s.rd, h<<4|l)
	}
	return true
}

// ilnp64 parses four groups of one to four hex digits joined by ':'.
func (p *fieldParser) ilnp64(w []byte) bool {
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(w) || w[i] != ':' {
				return false
			}
			i++
		}
		v, n := 0, 0
		for i < len(w) && n < 4 {
			d, ok := hexVal(w[i])
			if !ok {
				break
			}
			v = v<<4 | int(d)
			n++
			i++
		}
		if n == 0 {
			return false
		}
		p.put16(uint64(v))
	}
	return i == len(w)
}

// nsap parses 0x followed by hex digits, dots allowed between them
// (RFC 1706 section 5).
func (p *fieldParser) nsap(w []byte) bool {
	if len(w) < 3 || w[0] != '0' || w[1]|0x20 != 'x' {
		return false
	}
	var hi byte
	half := false
	for _, c := range w[2:] {
		if c == '.' {
			continue
		}
		d, ok := hexVal(c)
		if !ok {
			return false
		}
		if half {
			p.s.rd = append(p.s.rd, hi<<4|d)
		} else {
			hi = d
		}
		half = !half
	}
	return !half
}

func isAlnum(w []byte) bool {
	for _, c := range w {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isDecimal reports whether w is a decimal number: [-+]digits[.digits].
func isDecimal(w []byte) bool {
	if len(w) > 0 && (w[0] == '-' || w[0] == '+') {
		w = w[1:]
	}
	digits, dot := 0, false
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
