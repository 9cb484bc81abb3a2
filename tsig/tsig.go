// Package tsig signs and verifies DNS messages with transaction signatures
// (TSIG, RFC 8945): shared-secret HMACs over whole wire-format messages.
//
// A server checks a request with (*Keyring).Verify, which returns a
// Session when the request carries a TSIG record; the Session then signs
// the response, or each response of a multi-message exchange such as a
// zone transfer, and knows how to shape the error answers of RFC 8945
// section 5.2 (BADKEY and BADSIG unsigned, BADTIME signed with the
// server's time). A client signs a request with SignRequest and checks the
// response messages, in order, with the Session it returns; unsigned
// intermediate messages are accepted as section 5.3.1 allows.
//
// Messages are complete wire-format DNS messages; the package appends or
// strips the TSIG record itself and never keeps a reference to a message
// after a call returns. Keys hold canonical (lower-case, uncompressed
// wire-format) names.
package tsig

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/tapdns/tapdns/dnswire"
)

// Algorithm is an HMAC algorithm of RFC 8945 section 6. The zero value is
// no algorithm.
type Algorithm uint8

// The algorithms supported. HMAC-MD5 is not: RFC 8945 makes it optional
// and it is no longer recommended.
const (
	HMACSHA1 Algorithm = iota + 1
	HMACSHA256
	HMACSHA384
	HMACSHA512
)

var algNames = [...]string{HMACSHA1: "hmac-sha1", HMACSHA256: "hmac-sha256", HMACSHA384: "hmac-sha384", HMACSHA512: "hmac-sha512"}

// String returns the algorithm's name as used in configuration files
// ("hmac-sha256").
func (a Algorithm) String() string {
	if a == 0 || int(a) >= len(algNames) {
		return fmt.Sprintf("Algorithm(%d)", a)
	}
	return algNames[a]
}

// wireName returns the algorithm's name in wire format.
func (a Algorithm) wireName() []byte {
	s := algNames[a]
	return append([]byte{byte(len(s))}, append([]byte(s), 0)...)
}

// Size returns the length of the algorithm's full MAC in octets.
func (a Algorithm) Size() int {
	switch a {
	case HMACSHA1:
		return sha1.Size
	case HMACSHA256:
		return sha256.Size
	case HMACSHA384:
		return sha512.Size384
	case HMACSHA512:
		return sha512.Size
	}
	return 0
}

func (a Algorithm) newHMAC(secret []byte) hash.Hash {
	switch a {
	case HMACSHA1:
		return hmac.New(sha1.New, secret)
	case HMACSHA256:
		return hmac.New(sha256.New, secret)
	case HMACSHA384:
		return hmac.New(sha512.New384, secret)
	}
	return hmac.New(sha512.New, secret)
}

// ParseAlgorithm returns the algorithm named s ("hmac-sha256", any case, a
// trailing dot allowed).
func ParseAlgorithm(s string) (Algorithm, error) {
	n := strings.TrimSuffix(strings.ToLower(s), ".")
	for a, name := range algNames {
		if a != 0 && name == n {
			return Algorithm(a), nil
		}
	}
	return 0, fmt.Errorf("unknown TSIG algorithm %q (want hmac-sha1, hmac-sha256, hmac-sha384 or hmac-sha512)", s)
}

// algorithmByWire returns the algorithm whose canonical wire-format name
// is name, or 0.
func algorithmByWire(name []byte) Algorithm {
	for a := range algNames {
		if a != 0 && string(Algorithm(a).wireName()) == string(name) {
			return Algorithm(a)
		}
	}
	return 0
}

// Key is a TSIG key. Keys are shared by sessions and must not be modified
// once in use.
type Key struct {
	// Name is the key's canonical wire-format name.
	Name string
	// Algorithm is the only algorithm the key is used with: a request
	// naming another one is BADKEY (RFC 8945 5.2.1).
	Algorithm Algorithm
	// Secret is the shared secret, decoded.
	Secret []byte
}

// NameText returns the key's name in presentation format ("key.example.").
func (k *Key) NameText() string { return nameText([]byte(k.Name)) }

// ParseKey parses a key given as NAME:ALGORITHM:BASE64SECRET, the form of
// the --tsig flag (the same order as BIND's and Knot's key options).
func ParseKey(s string) (*Key, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("TSIG key %q: want NAME:ALGORITHM:BASE64SECRET", s)
	}
	name, err := wireName(parts[0])
	if err != nil {
		return nil, fmt.Errorf("TSIG key %q: name: %w", parts[0], err)
	}
	alg, err := ParseAlgorithm(parts[1])
	if err != nil {
		return nil, fmt.Errorf("TSIG key %s: %w", parts[0], err)
	}
	secret, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("TSIG key %s: secret is not base64: %w", parts[0], err)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("TSIG key %s: empty secret", parts[0])
	}
	return &Key{Name: string(name), Algorithm: alg, Secret: secret}, nil
}

// wireName converts a presentation-format name (no escapes; a final dot
// optional) to canonical wire format.
func wireName(s string) ([]byte, error) {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if s == "" {
		return nil, errors.New("empty name")
	}
	var b []byte
	for _, l := range strings.Split(s, ".") {
		switch {
		case l == "":
			return nil, errors.New("empty label")
		case len(l) > dnswire.MaxLabelLen:
			return nil, errors.New("label longer than 63 octets")
		case strings.ContainsAny(l, "\\ \t\"();"):
			return nil, fmt.Errorf("label %q: unsupported character", l)
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	if len(b) > dnswire.MaxNameLen {
		return nil, errors.New("name longer than 255 octets")
	}
	return b, nil
}

// nameText renders a wire-format name for messages.
func nameText(w []byte) string {
	if len(w) <= 1 {
		return "."
	}
	var sb strings.Builder
	for len(w) > 1 && int(w[0]) < len(w) {
		sb.Write(w[1 : 1+w[0]])
		sb.WriteByte('.')
		w = w[1+w[0]:]
	}
	return sb.String()
}

// Keyring is an immutable set of keys with distinct names. A nil *Keyring
// holds no keys (every signed request is BADKEY).
type Keyring struct {
	keys map[string]*Key
}

// NewKeyring returns a keyring holding keys, which must have distinct
// names.
func NewKeyring(keys ...*Key) (*Keyring, error) {
	r := &Keyring{keys: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if _, dup := r.keys[k.Name]; dup {
			return nil, fmt.Errorf("TSIG key %s given twice", k.NameText())
		}
		if k.Algorithm.Size() == 0 || len(k.Secret) == 0 {
			return nil, fmt.Errorf("TSIG key %s: no algorithm or secret", k.NameText())
		}
		r.keys[k.Name] = k
	}
	return r, nil
}

// Key returns the key with this canonical wire-format name, or nil.
func (r *Keyring) Key(name string) *Key {
	if r == nil {
		return nil
	}
	return r.keys[name]
}

// KeyText returns the key named name in presentation format ("k1." or
// "k1", any case), or nil.
func (r *Keyring) KeyText(name string) *Key {
	w, err := wireName(name)
	if err != nil {
		return nil
	}
	return r.Key(string(w))
}

// Len returns the number of keys.
func (r *Keyring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}

// Error is the TSIG record's error field (RFC 8945 section 4.2; the values
// are shared with the DNS RCODE registry).
type Error uint16

// The TSIG errors a server sends.
const (
	NoError  Error = 0
	BadSig   Error = 16
	BadKey   Error = 17
	BadTime  Error = 18
	BadTrunc Error = 22
)

// String names the error as RFC 8945 does ("BADSIG").
func (e Error) String() string {
	switch e {
	case NoError:
		return "NOERROR"
	case BadSig:
		return "BADSIG"
	case BadKey:
		return "BADKEY"
	case BadTime:
		return "BADTIME"
	case 19:
		return "BADMODE"
	case 20:
		return "BADNAME"
	case 21:
		return "BADALG"
	case BadTrunc:
		return "BADTRUNC"
	}
	if e < 16 {
		return fmt.Sprintf("RCODE%d", uint16(e))
	}
	return fmt.Sprintf("TSIGERROR%d", uint16(e))
}
