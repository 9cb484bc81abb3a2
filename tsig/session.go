package tsig

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"time"
)

// DefaultFudge is the time, in seconds, a signature stays valid on either
// side of its signing time (RFC 8945 section 10 recommends 300).
const DefaultFudge = 300

// maxUnsigned is how many unsigned messages in a row a client accepts in
// the middle of a signed multi-message response (RFC 8945 5.3.1: a server
// signs at least every 100th; NSD signs every 96th).
const maxUnsigned = 99

// ErrUnsigned is returned for a response to a signed request that carries
// no TSIG record where one is required.
var ErrUnsigned = errors.New("tsig: response is not signed")

// ResponseError is a TSIG failure found in a response.
type ResponseError struct {
	// Err is the failure.
	Err Error
	// Remote is true when the server reported Err in its TSIG record (it
	// did not accept our request), false when our check of the response
	// failed.
	Remote bool
}

func (e *ResponseError) Error() string {
	if e.Remote {
		return "tsig: server answered " + e.Err.String()
	}
	return "tsig: response failed verification: " + e.Err.String()
}

// Session is one signed exchange: a request and its response messages. A
// server gets one from (*Keyring).Verify and signs each response with Sign;
// a client gets one from SignRequest and checks each response message, in
// order, with Verify. A Session is used by one goroutine at a time.
type Session struct {
	key              *Key   // nil when the request's key is unknown
	keyName, algName []byte // canonical, for the records we append
	err              Error  // what Verify found wrong with the request
	mac              []byte // MAC of the last signed message of the exchange
	reqTime          uint64 // the request's Time Signed, for BADTIME
	fudge            uint16
	msgs             int // responses signed (server) or verified (client)

	// Client side: the running MAC input of the unsigned responses since
	// the last signed one (nil when there are none) and their number.
	h        hash.Hash
	unsigned int
}

// Key returns the key of the exchange, nil when the request named a key
// (or algorithm) that the keyring does not hold.
func (s *Session) Key() *Key { return s.key }

// Err returns what the server found wrong with the request: NoError when it
// verified, or the TSIG error to answer with (BADKEY, BADSIG, BADTIME), in
// which case the response must have RCODE NOTAUTH and no records (RFC 8945
// 5.2); Sign shapes its TSIG record.
func (s *Session) Err() Error { return s.err }

// KeyNameText returns the name of the request's key in presentation
// format, known or not, for logs.
func (s *Session) KeyNameText() string { return nameText(s.keyName) }

func unix(t time.Time) uint64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u) & (1<<48 - 1)
}

// Verify checks the TSIG record of the request msg at time now.
//
// It returns nil, nil when msg carries no TSIG record, and ErrFormat when
// the record is malformed or misplaced, or its MAC is longer than the
// algorithm's or truncated below the larger of 10 octets and half its
// length (RFC 8945 5.2.2.1: answered FORMERR). Otherwise it returns a
// Session whose Err says whether the request verified (checks in the order
// of RFC 8945 5.2: key and algorithm, MAC, time).
func (r *Keyring) Verify(msg []byte, now time.Time) (*Session, error) {
	rec, ok, err := Find(msg)
	if err != nil || !ok {
		return nil, err
	}
	s := &Session{keyName: rec.KeyName, algName: rec.AlgName, fudge: DefaultFudge, reqTime: rec.TimeSigned}
	k := r.Key(string(rec.KeyName))
	if k == nil || algorithmByWire(rec.AlgName) != k.Algorithm {
		s.err = BadKey
		return s, nil
	}
	if !macSizeOK(len(rec.MAC), k.Algorithm) {
		return nil, ErrFormat
	}
	s.key = k
	h := k.Algorithm.newHMAC(k.Secret)
	writeStripped(h, msg, &rec)
	writeVariables(h, rec.KeyName, rec.AlgName, rec.TimeSigned, rec.Fudge, rec.Error, rec.Other)
	if !hmac.Equal(h.Sum(nil)[:len(rec.MAC)], rec.MAC) {
		s.err = BadSig
		return s, nil
	}
	// The request MAC as received (truncated or not) is what the first
	// response's MAC covers (RFC 8945 5.2.2.1).
	s.mac = append([]byte(nil), rec.MAC...)
	if !inWindow(unix(now), rec.TimeSigned, rec.Fudge) {
		s.err = BadTime
	}
	return s, nil
}

func inWindow(now, signed uint64, fudge uint16) bool {
	d := now - signed
	if signed > now {
		d = signed - now
	}
	return d <= uint64(fudge)
}

// macSizeOK applies RFC 8945 5.2.2.1: no longer than the algorithm's
// output, no shorter than the larger of 10 octets and half of it.
func macSizeOK(n int, a Algorithm) bool {
	return n <= a.Size() && n >= max(10, a.Size()/2)
}

// Overhead returns the most octets Sign adds to a message, so that a
// responder can keep room for the TSIG record (UDP size, 64 KiB).
func (s *Session) Overhead() int {
	mac := 0
	if s.key != nil {
		mac = s.key.Algorithm.Size()
	}
	return recordLen(s.keyName, s.algName, mac, 6)
}

// Sign appends the TSIG record of the next response of the exchange to
// msg, a complete response message, and returns the extended message
// (msg's storage is reused when it has room). For a request that failed
// with BADKEY or BADSIG the record is unsigned (MAC size 0, RFC 8945
// 5.3.2); for BADTIME it is signed, with the request's Time Signed and the
// server's time in Other Data (5.2.3). The first response's MAC covers the
// request MAC and all TSIG variables, later ones the previous MAC and the
// timers only (5.3.1).
func (s *Session) Sign(msg []byte, now time.Time) ([]byte, error) {
	if len(msg) < 12 || u16(msg[10:]) == 0xFFFF {
		return msg, errors.New("tsig: cannot sign: not a message, or additional section full")
	}
	id := u16(msg)
	if s.key == nil || s.err == BadSig {
		return appendRecord(msg, s.keyName, s.algName, unix(now), s.fudge, nil, id, s.err, nil), nil
	}
	t := unix(now)
	var other []byte
	if s.err == BadTime {
		t, other = s.reqTime, appendTime(nil, t)
	}
	h := s.key.Algorithm.newHMAC(s.key.Secret)
	writeMAC(h, s.mac)
	h.Write(msg)
	if s.msgs == 0 {
		writeVariables(h, s.keyName, s.algName, t, s.fudge, s.err, other)
	} else {
		writeTimers(h, t, s.fudge)
	}
	s.mac = h.Sum(s.mac[:0])
	s.msgs++
	return appendRecord(msg, s.keyName, s.algName, t, s.fudge, s.mac, id, s.err, other), nil
}

// SignRequest appends a TSIG record signed with key at now to msg, a
// complete request, and returns the extended message and the Session that
// verifies the response(s).
func SignRequest(msg []byte, key *Key, now time.Time) ([]byte, *Session, error) {
	if len(msg) < 12 || u16(msg[10:]) == 0xFFFF {
		return msg, nil, errors.New("tsig: cannot sign: not a message, or additional section full")
	}
	alg := key.Algorithm.wireName()
	s := &Session{key: key, keyName: []byte(key.Name), algName: alg, fudge: DefaultFudge}
	t := unix(now)
	h := key.Algorithm.newHMAC(key.Secret)
	h.Write(msg)
	writeVariables(h, s.keyName, alg, t, s.fudge, NoError, nil)
	s.mac = h.Sum(nil)
	return appendRecord(msg, s.keyName, alg, t, s.fudge, s.mac, u16(msg), NoError, nil), s, nil
}

// Verify checks the next response message of a client's exchange at time
// now. The first response must be signed; later ones may be unsigned, up
// to 99 in a row, and are then covered by the next signed one (RFC 8945
// 5.3.1); Done tells whether the exchange ended on a signed message. A
// server's TSIG error is returned as a *ResponseError with Remote set, a
// failed check as one without; ErrUnsigned and ErrFormat as such. After
// an error the exchange is over: the Session must not be used again.
func (s *Session) Verify(msg []byte, now time.Time) error {
	rec, ok, err := Find(msg)
	if err != nil {
		return err
	}
	if !ok {
		if s.msgs == 0 {
			return ErrUnsigned
		}
		if s.unsigned >= maxUnsigned {
			return fmt.Errorf("%w: more than %d messages in a row", ErrUnsigned, maxUnsigned)
		}
		if s.h == nil {
			s.h = s.key.Algorithm.newHMAC(s.key.Secret)
			writeMAC(s.h, s.mac)
		}
		s.h.Write(msg)
		s.unsigned++
		return nil
	}
	if string(rec.KeyName) != s.key.Name || algorithmByWire(rec.AlgName) != s.key.Algorithm {
		return &ResponseError{Err: BadKey}
	}
	if rec.Error != NoError {
		return &ResponseError{Err: rec.Error, Remote: true}
	}
	if !macSizeOK(len(rec.MAC), s.key.Algorithm) {
		return ErrFormat
	}
	h := s.h
	if h == nil {
		h = s.key.Algorithm.newHMAC(s.key.Secret)
		writeMAC(h, s.mac)
	}
	writeStripped(h, msg, &rec)
	if s.msgs == 0 {
		writeVariables(h, rec.KeyName, rec.AlgName, rec.TimeSigned, rec.Fudge, rec.Error, rec.Other)
	} else {
		writeTimers(h, rec.TimeSigned, rec.Fudge)
	}
	if !hmac.Equal(h.Sum(nil)[:len(rec.MAC)], rec.MAC) {
		return &ResponseError{Err: BadSig}
	}
	if !inWindow(unix(now), rec.TimeSigned, rec.Fudge) {
		return &ResponseError{Err: BadTime}
	}
	s.mac = append(s.mac[:0], rec.MAC...)
	s.h, s.unsigned = nil, 0
	s.msgs++
	return nil
}

// Done reports an error unless the last response verified was signed.
func (s *Session) Done() error {
	switch {
	case s.msgs == 0:
		return ErrUnsigned
	case s.unsigned > 0:
		return fmt.Errorf("%w: the last %d messages", ErrUnsigned, s.unsigned)
	}
	return nil
}

func writeMAC(h hash.Hash, mac []byte) {
	h.Write([]byte{byte(len(mac) >> 8), byte(len(mac))})
	h.Write(mac)
}

// writeStripped writes msg as it was before its TSIG record was added:
// ARCOUNT one lower and the ID the record's Original ID (RFC 8945 4.3.1).
func writeStripped(h hash.Hash, msg []byte, rec *Record) {
	var hdr [12]byte
	copy(hdr[:], msg)
	hdr[0], hdr[1] = byte(rec.OrigID>>8), byte(rec.OrigID)
	ar := u16(hdr[10:]) - 1
	hdr[10], hdr[11] = byte(ar>>8), byte(ar)
	h.Write(hdr[:])
	h.Write(msg[12:rec.Offset])
}

// writeVariables writes the TSIG variables of RFC 8945 4.3.3.
func writeVariables(h hash.Hash, key, alg []byte, t uint64, fudge uint16, terr Error, other []byte) {
	h.Write(key)
	h.Write([]byte{0, classANY, 0, 0, 0, 0})
	h.Write(alg)
	b := appendTime(make([]byte, 0, 12), t)
	b = append(b, byte(fudge>>8), byte(fudge), byte(terr>>8), byte(terr), byte(len(other)>>8), byte(len(other)))
	h.Write(b)
	h.Write(other)
}

// writeTimers writes the TSIG timers of RFC 8945 4.3.3 (for the later
// messages of an exchange).
func writeTimers(h hash.Hash, t uint64, fudge uint16) {
	h.Write(append(appendTime(make([]byte, 0, 8), t), byte(fudge>>8), byte(fudge)))
}
