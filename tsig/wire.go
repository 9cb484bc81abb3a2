package tsig

import (
	"errors"

	"github.com/tapdns/tapdns/dnswire"
)

// Record is a parsed TSIG record. Its byte slices alias the message it was
// found in, except KeyName and AlgName, which are canonical copies.
type Record struct {
	// Offset is where the record starts in the message: the message
	// without its TSIG is msg[:Offset] with ARCOUNT one lower.
	Offset int
	// KeyName and AlgName are the owner name and the algorithm name, in
	// canonical wire format.
	KeyName, AlgName []byte
	// TimeSigned is in seconds since the Unix epoch (48 bits on the wire).
	TimeSigned uint64
	Fudge      uint16
	MAC        []byte
	OrigID     uint16
	Error      Error
	Other      []byte
}

// ErrFormat is returned by Find for a TSIG record that is malformed or
// not the last record of the message (RFC 8945 5.2: answered FORMERR).
var ErrFormat = errors.New("tsig: malformed or misplaced TSIG record")

// classANY is the class of a TSIG record; TTL is always 0.
const classANY = 255

// Find locates and parses the TSIG record of msg. It returns ok false and
// no error when msg has none (or is too short to be a message), and
// ErrFormat when a TSIG record is not the last record of the additional
// section, when there are several, or when it does not parse. Find does
// not allocate when there is no TSIG record.
func Find(msg []byte) (rec Record, ok bool, err error) {
	if len(msg) < dnswire.HeaderLen {
		return Record{}, false, nil
	}
	qd := int(u16(msg[4:]))
	total := int(u16(msg[6:])) + int(u16(msg[8:])) + int(u16(msg[10:]))
	off := dnswire.HeaderLen
	for i := 0; i < qd; i++ {
		if off = skipName(msg, off); off < 0 || off+4 > len(msg) {
			return Record{}, false, nil // not ours to judge: no TSIG seen
		}
		off += 4
	}
	for i := 0; i < total; i++ {
		start := off
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return Record{}, false, nil
		}
		typ := u16(msg[off:])
		end := off + 10 + int(u16(msg[off+8:]))
		if end > len(msg) {
			return Record{}, false, nil
		}
		if typ == dnswire.TypeTSIG {
			if i != total-1 || u16(msg[10:]) == 0 {
				return Record{}, true, ErrFormat
			}
			if !parseRecord(msg, start, off, end, &rec) {
				return Record{}, true, ErrFormat
			}
			return rec, true, nil
		}
		off = end
	}
	return Record{}, false, nil
}

// parseRecord parses the TSIG record starting at start, whose type field is
// at typeOff and which ends at end.
func parseRecord(msg []byte, start, typeOff, end int, rec *Record) bool {
	var name [dnswire.MaxNameLen]byte
	n := readName(msg, start, &name)
	if n < 0 || u16(msg[typeOff+2:]) != classANY {
		return false
	}
	rec.Offset = start
	rec.KeyName = append([]byte(nil), name[:n]...)
	rd := msg[typeOff+10 : end]
	// The algorithm name: uncompressed (RFC 3597 4: TSIG is not a type of
	// RFC 1035, so no compression inside its rdata).
	an := dnswire.CanonicalName(&name, rd)
	if an < 0 {
		return false
	}
	rec.AlgName = append([]byte(nil), name[:an]...)
	rd = rd[an:]
	if len(rd) < 10 {
		return false
	}
	rec.TimeSigned = uint64(u16(rd))<<32 | uint64(u16(rd[2:]))<<16 | uint64(u16(rd[4:]))
	rec.Fudge = u16(rd[6:])
	ml := int(u16(rd[8:]))
	rd = rd[10:]
	if len(rd) < ml+6 {
		return false
	}
	rec.MAC = rd[:ml:ml]
	rd = rd[ml:]
	rec.OrigID = u16(rd)
	rec.Error = Error(u16(rd[2:]))
	ol := int(u16(rd[4:]))
	rd = rd[6:]
	if len(rd) != ol {
		return false
	}
	rec.Other = rd[:ol:ol]
	return true
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// skipName returns the offset after the possibly compressed name at off,
// or -1.
func skipName(msg []byte, off int) int {
	for n := 0; ; {
		if off >= len(msg) {
			return -1
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case l > dnswire.MaxLabelLen:
			return -1
		}
		n += 1 + l
		if n >= dnswire.MaxNameLen {
			return -1
		}
		off += 1 + l
	}
}

// readName writes the canonical form of the possibly compressed name at
// off into dst and returns its length, or -1.
func readName(msg []byte, off int, dst *[dnswire.MaxNameLen]byte) int {
	n, hops := 0, 0
	for {
		if off >= len(msg) {
			return -1
		}
		l := int(msg[off])
		switch {
		case l == 0:
			dst[n] = 0
			return n + 1
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) || hops > 64 {
				return -1
			}
			hops++
			next := int(u16(msg[off:]) & 0x3FFF)
			if next >= off {
				return -1 // pointers go backwards only
			}
			off = next
			continue
		case l > dnswire.MaxLabelLen:
			return -1
		}
		if off+1+l > len(msg) || n+1+l+1 > dnswire.MaxNameLen {
			return -1
		}
		dst[n] = byte(l)
		for i := 0; i < l; i++ {
			c := msg[off+1+i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst[n+1+i] = c
		}
		n += 1 + l
		off += 1 + l
	}
}

// appendRecord appends a TSIG record to msg and increments ARCOUNT. The
// caller has checked that ARCOUNT can grow.
func appendRecord(msg []byte, key, alg []byte, timeSigned uint64, fudge uint16, mac []byte, origID uint16, terr Error, other []byte) []byte {
	rdlen := len(alg) + 16 + len(mac) + len(other)
	msg = append(msg, key...)
	msg = append(msg, byte(dnswire.TypeTSIG>>8), byte(dnswire.TypeTSIG), 0, classANY, 0, 0, 0, 0, byte(rdlen>>8), byte(rdlen))
	msg = append(msg, alg...)
	msg = appendTime(msg, timeSigned)
	msg = append(msg, byte(fudge>>8), byte(fudge), byte(len(mac)>>8), byte(len(mac)))
	msg = append(msg, mac...)
	msg = append(msg, byte(origID>>8), byte(origID), byte(terr>>8), byte(terr), byte(len(other)>>8), byte(len(other)))
	msg = append(msg, other...)
	ar := u16(msg[10:]) + 1
	msg[10], msg[11] = byte(ar>>8), byte(ar)
	return msg
}

func appendTime(b []byte, t uint64) []byte {
	return append(b, byte(t>>40), byte(t>>32), byte(t>>24), byte(t>>16), byte(t>>8), byte(t))
}

// recordLen is the length of a TSIG record with these parts.
func recordLen(key, alg []byte, macLen, otherLen int) int {
	return len(key) + 10 + len(alg) + 16 + macLen + otherLen
}
