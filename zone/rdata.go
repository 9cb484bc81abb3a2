package zone

import "errors"

// Checks of wire-format rdata against the layout of its type, for records
// that arrive in wire form (Builder.Add): the answer path reads the names
// in NS, MX, SRV, CNAME and DNAME rdata, and a zone must never hold
// records it could not print or sign.

var errShort = errors.New("rdata too short")

// wireNameLen returns the length of the uncompressed wire name at the start
// of b, or an error.
func wireNameLen(b []byte) (int, error) {
	for i := 0; ; {
		if i >= len(b) {
			return 0, errShort
		}
		l := int(b[i])
		switch {
		case l == 0:
			if i+1 > 255 {
				return 0, errors.New("name longer than 255 octets")
			}
			return i + 1, nil
		case l > 63:
			return 0, errors.New("compressed or malformed name")
		}
		i += 1 + l
	}
}

// checkRdata reports whether rd is well-formed rdata of type t. Types
// without a known layout accept any rdata (RFC 3597).
func checkRdata(t uint16, rd []byte) error {
	d := types[t]
	if d == nil || d.fields == nil {
		if d != nil && d.meta {
			return errors.New("meta type " + d.name + " cannot be in a zone")
		}
		return nil
	}
	_, err := walkRdata(d.fields, rd, nil)
	return err
}

// walkRdata walks rd field by field and returns the offsets [start, end)
// of the domain names in it that the canonical form lower-cases (all names
// but those in NSEC, TALINK, NSAP-PTR and the other types without the lower
// flag: the caller decides). names may be nil.
func walkRdata(fields []kind, rd []byte, names []int) ([]int, error) {
	b := rd
	off := func() int { return len(rd) - len(b) }
	need := func(n int) error {
		if len(b) < n {
			return errShort
		}
		return nil
	}
	name := func() error {
		n, err := wireNameLen(b)
		if err != nil {
			return err
		}
		names = append(names, off(), off()+n)
		b = b[n:]
		return nil
	}
	str := func() error {
		if err := need(1); err != nil {
			return err
		}
		n := 1 + int(b[0])
		if err := need(n); err != nil {
			return err
		}
		b = b[n:]
		return nil
	}
	for _, f := range fields {
		switch f {
		case kName:
			if err := name(); err != nil {
				return nil, err
			}
		case kU8, kAlg:
			if err := need(1); err != nil {
				return nil, err
			}
			b = b[1:]
		case kU16, kCert, kType:
			if err := need(2); err != nil {
				return nil, err
			}
			b = b[2:]
		case kU32, kPeriod, kTime, kA:
			if err := need(4); err != nil {
				return nil, err
			}
			b = b[4:]
		case kAAAA:
			if err := need(16); err != nil {
				return nil, err
			}
			b = b[16:]
		case kEUI48:
			if err := need(6); err != nil {
				return nil, err
			}
			b = b[6:]
		case kEUI64, kILNP64:
			if err := need(8); err != nil {
				return nil, err
			}
			b = b[8:]
		case kStr, kTag, kFloat:
			if err := str(); err != nil {
				return nil, err
			}
		case kOptStr:
			if len(b) > 0 {
				if err := str(); err != nil {
					return nil, err
				}
			}
		case kStrs:
			if len(b) == 0 {
				return nil, errShort
			}
			for len(b) > 0 {
				if err := str(); err != nil {
					return nil, err
				}
			}
		case kB64, kHexOpt, kText:
			b = b[len(b):]
		case kHex, kNSAP:
			if len(b) == 0 {
				return nil, errShort
			}
			b = b[len(b):]
		case kSalt, kHash:
			if err := str(); err != nil {
				return nil, err
			}
		case kBitmap:
			if err := checkBitmap(b); err != nil {
				return nil, err
			}
			b = b[len(b):]
		case kNXT:
			if err := name(); err != nil {
				return nil, err
			}
			if len(b) > 16 {
				return nil, errors.New("NXT bit map longer than 16 octets")
			}
			b = b[len(b):]
		case kLOC:
			if err := need(16); err != nil {
				return nil, err
			}
			b = b[16:]
		case kWKS:
			if err := need(5); err != nil {
				return nil, err
			}
			b = b[len(b):]
		case kAPL:
			for len(b) > 0 {
				if err := need(4); err != nil {
					return nil, err
				}
				n := 4 + int(b[3]&0x7f)
				if err := need(n); err != nil {
					return nil, err
				}
				b = b[n:]
			}
		case kIPSECKEY, kAMTRELAY:
			if err := need(2); err != nil {
				return nil, err
			}
			gw := b[1]
			if f == kIPSECKEY {
				if err := need(3); err != nil {
					return nil, err
				}
				b = b[3:]
			} else {
				gw &= 0x7f
				b = b[2:]
			}
			switch gw {
			case 0:
			case 1:
				if err := need(4); err != nil {
					return nil, err
				}
				b = b[4:]
			case 2:
				if err := need(16); err != nil {
					return nil, err
				}
				b = b[16:]
			case 3:
				n, err := wireNameLen(b)
				if err != nil {
					return nil, err
				}
				b = b[n:]
			default:
				return nil, errors.New("unknown gateway type")
			}
			if f == kAMTRELAY && len(b) > 0 {
				return nil, errors.New("data after the relay")
			}
			b = b[len(b):] // the IPSECKEY public key
		case kHIP:
			if err := need(4); err != nil {
				return nil, err
			}
			hit, pk := int(b[0]), int(b[2])<<8|int(b[3])
			if err := need(4 + hit + pk); err != nil {
				return nil, err
			}
			b = b[4+hit+pk:]
			for len(b) > 0 {
				n, err := wireNameLen(b)
				if err != nil {
					return nil, err
				}
				b = b[n:]
			}
		case kSVCB:
			last := -1
			for len(b) > 0 {
				if err := need(4); err != nil {
					return nil, err
				}
				key, n := int(b[0])<<8|int(b[1]), int(b[2])<<8|int(b[3])
				if key <= last {
					return nil, errors.New("SVCB keys not in strictly increasing order")
				}
				last = key
				if err := need(4 + n); err != nil {
					return nil, err
				}
				b = b[4+n:]
			}
		}
	}
	if len(b) > 0 {
		return nil, errors.New("data after the last field")
	}
	return names, nil
}

// checkBitmap checks an NSEC-style type bit map (RFC 4034 section 4.1.2):
// windows in increasing order, each 1 to 32 octets.
func checkBitmap(b []byte) error {
	last := -1
	for len(b) > 0 {
		if len(b) < 2 {
			return errShort
		}
		w, n := int(b[0]), int(b[1])
		if w <= last {
			return errors.New("type bit map windows out of order")
		}
		if n < 1 || n > 32 || len(b) < 2+n {
			return errors.New("bad type bit map window length")
		}
		last = w
		b = b[2+n:]
	}
	return nil
}

// canonicalRdata appends the canonical form of rd (type t) to dst: names
// lower-cased where RFC 4034 section 6.2 (and RFC 6840 section 5.1) say
// so. rd must be well-formed.
func canonicalRdata(dst []byte, t uint16, rd []byte) []byte {
	start := len(dst)
	dst = append(dst, rd...)
	d := types[t]
	if d == nil || !d.lower {
		return dst
	}
	var buf [16]int
	names, err := walkRdata(d.fields, rd, buf[:0])
	if err != nil {
		return dst
	}
	for i := 0; i+1 < len(names); i += 2 {
		lower(dst[start+names[i] : start+names[i+1]])
	}
	return dst
}
