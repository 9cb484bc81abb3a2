package resolver

import (
	"context"
	"errors"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnswire"
)

// maxWaiters bounds the clients waiting for one question in flight; more
// are dropped (they retry).
const maxWaiters = 256

// flightKey identifies a question being resolved.
type flightKey struct {
	name  string
	qtype uint16
}

// flight is one resolution in progress and the clients waiting for it.
// Fields other than done and msg are guarded by Server.fmu.
type flight struct {
	done      chan struct{} // closed when msg is set
	msg       cache.Msg
	leader    *job   // the UDP query that started it, until answered
	waiters   []*job // UDP queries that joined it
	staleSent bool   // the clients so far got the stale answer
}

// serveJob resolves a queued query, or joins it to the identical one in
// flight.
func (s *Server) serveJob(j *job) {
	key := flightKey{name: string(j.qname()), qtype: j.qtype}
	s.fmu.Lock()
	if f := s.flights[key]; f != nil {
		switch {
		case j.prefetch:
			// Being resolved already.
		case f.staleSent && j.stale:
			s.fmu.Unlock()
			s.replyStale(j)
			return
		case len(f.waiters) >= maxWaiters:
			s.shards[0].dropped.Add(1)
		default:
			jc := new(job)
			*jc = *j
			f.waiters = append(f.waiters, jc)
			s.stats.coalesced.Add(1)
		}
		s.fmu.Unlock()
		return
	}
	f := &flight{done: make(chan struct{})}
	if !j.prefetch {
		f.leader = j
	}
	s.flights[key] = f
	s.fmu.Unlock()
	var staleAt time.Time
	if j.stale && !j.prefetch {
		staleAt = j.start.Add(s.cfg.StaleTimeout)
	}
	s.lead(key, f, j.qname(), j.qtype, j.prefetch, staleAt)
}

// lead resolves the flight's question and answers its clients. With a
// stale answer cached (staleAt set), the clients waiting at staleAt get it
// then (RFC 8767's client response timer) while resolution goes on.
func (s *Server) lead(key flightKey, f *flight, name []byte, qtype uint16, refresh bool, staleAt time.Time) {
	var timer *time.Timer
	timerDone := make(chan struct{})
	if !staleAt.IsZero() {
		timer = time.AfterFunc(time.Until(staleAt), func() {
			defer close(timerDone)
			s.staleTimeout(key, f)
		})
	}
	m := s.resolveQuestion(name, qtype, refresh)
	if timer != nil && !timer.Stop() {
		<-timerDone // it ran, or runs now: let it finish with the clients
	}
	s.fmu.Lock()
	delete(s.flights, key)
	leader, waiters := f.leader, f.waiters
	f.leader, f.waiters = nil, nil
	f.msg = m
	s.fmu.Unlock()
	close(f.done)
	if leader == nil && len(waiters) == 0 {
		return
	}
	// A failure with a stale answer at hand: the stale answer (RFC 8767).
	stale := false
	if m.Rcode() == dnswire.RcodeServFail {
		if sm, st := s.cache.Lookup(name, qtype); st == cache.Stale {
			m, stale = sm, true
		}
	}
	for _, j := range append(waiters, leader) {
		if j == nil {
			continue
		}
		if stale {
			s.shards[0].stale.Add(1)
		}
		s.sendUDP(j, m, stale)
	}
}

// staleTimeout answers the clients of f with the stale answer when its
// resolution is still running at the stale timeout.
func (s *Server) staleTimeout(key flightKey, f *flight) {
	s.fmu.Lock()
	if s.flights[key] != f {
		s.fmu.Unlock()
		return
	}
	m, st := s.cache.Lookup([]byte(key.name), key.qtype)
	if st != cache.Stale && st != cache.Fresh && st != cache.Prefetch {
		s.fmu.Unlock()
		return // evicted meanwhile: the clients wait for the resolution
	}
	f.staleSent = true
	leader, waiters := f.leader, f.waiters
	f.leader, f.waiters = nil, nil
	s.fmu.Unlock()
	s.stats.staleTimeouts.Add(1)
	stale := st == cache.Stale
	for _, j := range append(waiters, leader) {
		if j == nil {
			continue
		}
		if stale {
			s.shards[0].stale.Add(1)
		}
		s.sendUDP(j, m, stale)
	}
}

// replyStale answers a queued query with what the cache has now: the
// stale answer, a fresh one if it arrived meanwhile, or SERVFAIL.
func (s *Server) replyStale(j *job) {
	m, st := s.cache.Lookup(j.qname(), j.qtype)
	switch st {
	case cache.Stale:
		s.shards[0].stale.Add(1)
		s.sendUDP(j, m, true)
	case cache.Fresh, cache.Prefetch:
		s.sendUDP(j, m, false)
	default:
		s.sendUDP(j, cache.Msg{}, false)
	}
}

// resolveQuestion resolves a question within the time budget and returns
// the answer to send, cached when it may be: an answer or negative answer
// in the message cache, a failure (SERVFAIL with the cause's EDE) for
// Config.FailureTTL.
func (s *Server) resolveQuestion(name []byte, qtype uint16, refresh bool) cache.Msg {
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.TimeBudget)
	defer cancel()
	queries := 0
	r := &request{s: s, ctx: ctx, queries: &queries, refresh: refresh}
	res := r.resolve(name, qtype)
	s.stats.resolutions.Add(1)
	s.stats.observe(time.Since(start))
	if res.rcode != dnswire.RcodeServFail {
		m, err := s.cache.NewMsg(name, qtype, res.rcode, -1, res.answer, res.authority)
		if err == nil {
			s.cache.Put(m)
			return m
		}
		res = failed(CauseMalformed) // an answer no message can hold
	}
	if s.ctx.Err() != nil {
		res.cause = CauseShutdown
	}
	s.stats.servfail[res.cause].Add(1)
	ede := res.cause.EDE()
	m, _ := s.cache.NewMsg(name, qtype, dnswire.RcodeServFail, ede, nil, nil)
	if res.cause != CauseShutdown {
		s.cache.PutFailure(name, qtype, ede, uint32(s.cfg.FailureTTL/time.Second))
	}
	s.log.Debug("resolution failed", "cause", res.cause.String(), "queries", queries)
	return m
}

// answerTCP resolves a TCP query, or waits for the identical one in
// flight, at most the time budget (then SERVFAIL); with a stale answer
// cached, at most the stale timeout (then the stale answer).
func (s *Server) answerTCP(dst []byte, c *client, name []byte, qtype uint16, stale bool) []byte {
	key := flightKey{name: string(name), qtype: qtype}
	budget := time.NewTimer(s.cfg.TimeBudget)
	defer budget.Stop()
	var staleC <-chan time.Time
	if stale {
		t := time.NewTimer(s.cfg.StaleTimeout)
		defer t.Stop()
		staleC = t.C
	}
	f, err := s.startFlight(key, qtype, budget.C)
	if err != nil {
		s.stats.servfail[CauseLimit].Add(1)
		return s.writeEmpty(dst, c, dnswire.RcodeServFail, edeOther)
	}
	select {
	case <-f.done:
		m := f.msg
		if m.Rcode() == dnswire.RcodeServFail {
			if sm, st := s.cache.Lookup(name, qtype); st == cache.Stale {
				s.shards[0].stale.Add(1)
				return s.reply(dst, c, sm, true)
			}
		}
		return s.reply(dst, c, m, false)
	case <-staleC:
		if sm, st := s.cache.Lookup(name, qtype); st != cache.Miss {
			if st == cache.Stale {
				s.shards[0].stale.Add(1)
			}
			return s.reply(dst, c, sm, st == cache.Stale)
		}
	case <-budget.C:
	case <-s.ctx.Done():
	}
	select {
	case <-f.done:
		return s.reply(dst, c, f.msg, false)
	case <-budget.C:
		s.stats.servfail[CauseBudget].Add(1)
		return s.writeEmpty(dst, c, dnswire.RcodeServFail, CauseBudget.EDE())
	case <-s.ctx.Done():
		return s.writeEmpty(dst, c, dnswire.RcodeServFail, CauseShutdown.EDE())
	}
}

// errBusy: no resolution slot came free in time.
var errBusy = errors.New("resolver: no resolution slot free")

// startFlight returns the flight for key, starting one (on a goroutine
// holding one of the Concurrency TCP slots) when none is in progress.
func (s *Server) startFlight(key flightKey, qtype uint16, giveUp <-chan time.Time) (*flight, error) {
	for {
		s.fmu.Lock()
		if f := s.flights[key]; f != nil {
			s.fmu.Unlock()
			s.stats.coalesced.Add(1)
			return f, nil
		}
		select {
		case s.tcpSem <- struct{}{}:
		default:
			s.fmu.Unlock()
			select {
			case s.tcpSem <- struct{}{}:
				<-s.tcpSem // a slot is free: start over, the flight may exist now
				continue
			case <-giveUp:
				return nil, errBusy
			case <-s.ctx.Done():
				return nil, errBusy
			}
		}
		s.runMu.Lock()
		if s.ctx.Err() != nil {
			s.runMu.Unlock()
			<-s.tcpSem
			s.fmu.Unlock()
			return nil, errBusy
		}
		s.wg.Add(1)
		s.runMu.Unlock()
		f := &flight{done: make(chan struct{})}
		s.flights[key] = f
		s.fmu.Unlock()
		name := []byte(key.name) // the query's memory is the caller's
		go func() {
			defer s.wg.Done()
			defer func() { <-s.tcpSem }()
			s.lead(key, f, name, qtype, false, time.Time{})
		}()
		return f, nil
	}
}
