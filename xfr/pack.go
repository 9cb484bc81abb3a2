package xfr

import "github.com/tapdns/tapdns/dnswire"

// packer writes transfer messages. Unlike dnswire.Builder, built for
// answers, it compresses a name only against an exact (case-sensitive)
// earlier copy, so that a transfer reproduces the case of every name in
// the zone, and its compression table has no size limit, so that large
// messages compress as well as small ones.
type packer struct {
	buf   []byte
	limit int
	an    uint16
	comp  map[string]uint16 // name suffix as written -> its offset
	added []string          // suffixes registered by the record being added
}

// start begins a message with id, flags and question (nil for none).
func (p *packer) start(id, flags uint16, question []byte, limit int) {
	p.buf = append(p.buf[:0], byte(id>>8), byte(id), byte(flags>>8), byte(flags), 0, 0, 0, 0, 0, 0, 0, 0)
	p.limit, p.an = limit, 0
	if p.comp == nil {
		p.comp = make(map[string]uint16, 1024)
	}
	clear(p.comp)
	if question != nil {
		p.buf[5] = 1
		if n := dnswire.NameLen(question); n > 0 {
			p.register(len(p.buf), question[:n], n-1)
		}
		p.buf = append(p.buf, question...)
	}
	p.added = p.added[:0]
}

// register records the suffixes of the name written out at off that start
// before upto (the labels written as such, not behind a pointer).
func (p *packer) register(off int, name []byte, upto int) {
	for i := 0; i < upto && name[i] != 0 && off+i < 0x3FFF; i += 1 + int(name[i]) {
		k := string(name[i:])
		if _, ok := p.comp[k]; !ok {
			p.comp[k] = uint16(off + i)
			p.added = append(p.added, k)
		}
	}
}

// name appends name, compressed against an exact earlier copy of one of
// its suffixes.
func (p *packer) name(name []byte) {
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		if off, ok := p.comp[string(name[i:])]; ok {
			start := len(p.buf)
			p.buf = append(p.buf, name[:i]...)
			p.buf = append(p.buf, 0xC0|byte(off>>8), byte(off))
			p.register(start, name, i)
			return
		}
	}
	p.register(len(p.buf), name, len(name)-1)
	p.buf = append(p.buf, name...)
}

// add appends a record to the answer section; false (nothing added) when
// it would pass the limit.
func (p *packer) add(owner []byte, typ, class uint16, ttl uint32, rdata []byte) bool {
	if p.an == 0xFFFF {
		return false
	}
	mark := len(p.buf)
	p.added = p.added[:0]
	p.name(owner)
	p.buf = append(p.buf, byte(typ>>8), byte(typ), byte(class>>8), byte(class),
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), 0, 0)
	rdStart := len(p.buf)
	if n := len(p.added); !dnswire.CompressibleRdata(typ) || !p.rdata(typ, rdata) {
		p.unregister(n)
		p.buf = append(p.buf[:rdStart], rdata...)
	}
	rdlen := len(p.buf) - rdStart
	if len(p.buf) > p.limit || rdlen > 0xFFFF {
		p.buf = p.buf[:mark]
		p.unregister(0)
		return false
	}
	p.buf[rdStart-2], p.buf[rdStart-1] = byte(rdlen>>8), byte(rdlen)
	p.an++
	return true
}

// rdata writes the rdata of an RFC 1035 type with its names compressed;
// false when it does not have the expected layout (it is then copied).
func (p *packer) rdata(typ uint16, rdata []byte) bool {
	l := layouts[typ]
	off := 0
	for _, st := range l.steps {
		switch {
		case st > 0:
			if off+int(st) > len(rdata) {
				return false
			}
			p.buf = append(p.buf, rdata[off:off+int(st)]...)
			off += int(st)
		case st == 0:
			n := dnswire.NameLen(rdata[off:])
			if n < 0 {
				return false
			}
			p.name(rdata[off : off+n])
			off += n
		default:
			return false // no character-strings in RFC 1035's types
		}
	}
	if len(rdata)-off != l.tail {
		return false
	}
	p.buf = append(p.buf, rdata[off:]...)
	return true
}

// unregister forgets the suffixes registered since p.added had n entries.
func (p *packer) unregister(n int) {
	for _, k := range p.added[n:] {
		delete(p.comp, k)
	}
	p.added = p.added[:n]
}

// finish writes the answer count and returns the message.
func (p *packer) finish() []byte {
	p.buf[6], p.buf[7] = byte(p.an>>8), byte(p.an)
	return p.buf
}
