package xfr

import (
	"errors"
	"fmt"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// MsgWriter sends one DNS message on a TCP connection, adding the length
// prefix (dnstcp.MsgWriter's method); msg may be reused once WriteMsg
// returns. It is an alias of an unnamed interface, the same as
// dnssvc.MsgWriter, so that Service implements dnssvc.Transfers without
// either package importing the other.
type MsgWriter = interface {
	WriteMsg(msg []byte) error
}

// maxXfrMsg is the largest transfer message written: TCP's limit.
const maxXfrMsg = dnswire.MaxMsgLen

// xfrWriter packs the records of one transfer answer into as few messages
// as fit, each signed when the request was.
type xfrWriter struct {
	w        MsgWriter
	sess     *tsig.Session
	now      func() time.Time
	id       uint16
	question []byte // in the first message only (RFC 5936 2.2.1)
	p        packer
	limit    int

	msgs, recs, bytes int
}

func newXfrWriter(w MsgWriter, sess *tsig.Session, now func() time.Time, id uint16, question []byte) *xfrWriter {
	x := &xfrWriter{w: w, sess: sess, now: now, id: id, question: question, limit: maxXfrMsg}
	if sess != nil {
		x.limit -= sess.Overhead()
	}
	x.p.buf = make([]byte, 0, maxXfrMsg)
	x.start()
	return x
}

func (x *xfrWriter) start() {
	var q []byte
	if x.msgs == 0 {
		q = x.question
	}
	x.p.start(x.id, dnswire.FlagQR|dnswire.FlagAA, q, x.limit)
}

// add appends one record, sending the message first when it is full.
func (x *xfrWriter) add(owner []byte, typ uint16, ttl uint32, rdata []byte) error {
	if x.p.add(owner, typ, dnswire.ClassIN, ttl, rdata) {
		x.recs++
		return nil
	}
	if x.p.an == 0 {
		return fmt.Errorf("record %s %s does not fit in a message", nameText(owner), typeText(typ))
	}
	if err := x.flush(); err != nil {
		return err
	}
	x.start()
	if !x.p.add(owner, typ, dnswire.ClassIN, ttl, rdata) {
		return fmt.Errorf("record %s %s does not fit in a message", nameText(owner), typeText(typ))
	}
	x.recs++
	return nil
}

func (x *xfrWriter) addRR(rr *RR) error { return x.add(rr.Owner, rr.Type, rr.TTL, rr.Rdata) }

// flush signs and sends the message built so far.
func (x *xfrWriter) flush() error {
	msg := x.p.finish()
	if x.sess != nil {
		var err error
		if msg, err = x.sess.Sign(msg, x.now()); err != nil {
			return err
		}
	}
	x.msgs++
	x.bytes += len(msg)
	return x.w.WriteMsg(msg)
}

// writeAXFR writes z as an AXFR answer: its SOA, every other record, and
// the SOA again.
func writeAXFR(x *xfrWriter, z *zone.Zone) error {
	soa := soaOf(z)
	if err := x.addRR(&soa); err != nil {
		return err
	}
	var err error
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		if typ == dnswire.TypeSOA {
			return true
		}
		err = x.add(owner, typ, ttl, rdata)
		return err == nil
	})
	if err != nil {
		return err
	}
	if err := x.addRR(&soa); err != nil {
		return err
	}
	return x.flush()
}

// writeIXFR writes the incremental answer of RFC 1995 section 4: the
// current SOA, then for each difference the old SOA, the deletions, the
// new SOA and the additions, and the current SOA again. With no
// differences (the client is up to date) it is the current SOA alone.
func writeIXFR(x *xfrWriter, z *zone.Zone, diffs []*Diff) error {
	soa := soaOf(z)
	if err := x.addRR(&soa); err != nil {
		return err
	}
	if len(diffs) > 0 {
		if diffs[len(diffs)-1].To() != z.Serial {
			return errors.New("journal does not end at the zone's serial")
		}
		for _, d := range diffs {
			for _, part := range [...]struct {
				soa *RR
				rrs []RR
			}{{&d.OldSOA, d.Del}, {&d.NewSOA, d.Add}} {
				if err := x.addRR(part.soa); err != nil {
					return err
				}
				for i := range part.rrs {
					if err := x.addRR(&part.rrs[i]); err != nil {
						return err
					}
				}
			}
		}
		if err := x.addRR(&soa); err != nil {
			return err
		}
	}
	return x.flush()
}

// writeError sends a single answer with rcode and no records (REFUSED,
// NOTAUTH, FORMERR), signed when the request was.
func writeError(w MsgWriter, sess *tsig.Session, now func() time.Time, id, flags uint16, question []byte, rcode dnswire.Rcode) error {
	var b dnswire.Builder
	b.Start(make([]byte, 0, 512), id, dnswire.FlagsWith(dnswire.FlagQR|flags&dnswire.FlagRD, dnswire.FlagsOpcode(flags), rcode), 512)
	if question != nil {
		b.Question(question)
	}
	msg := b.Finish()
	if sess != nil {
		var err error
		if msg, err = sess.Sign(msg, now()); err != nil {
			return err
		}
	}
	return w.WriteMsg(msg)
}
