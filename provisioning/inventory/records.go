package inventory

// records holds the phones by MAC in one of two forms. A phone that
// changed lately is held as a Phone (hot), to be changed in place. One
// that has not changed for a whole flush interval is held as its journal
// record (frozen: appendPhone's bytes): a DHCP client's record takes about
// a fifth of the room of a Phone and its lists, and it holds no pointers
// for the garbage collector to follow. Most of a site's phones are frozen
// between their boots.
//
// A fact about a frozen phone thaws it (decodes it back into a Phone);
// readers decode a copy and leave it frozen. The caller holds the
// inventory's lock, as for every field it guards.
type records struct {
	hot    map[MAC]*Phone
	frozen map[MAC]string
	// buf is the encoding room freeze reuses.
	buf []byte
}

func newRecords() records {
	return records{hot: map[MAC]*Phone{}, frozen: map[MAC]string{}}
}

// len is the number of phones held.
func (r *records) len() int { return len(r.hot) + len(r.frozen) }

// has reports whether mac's phone is held.
func (r *records) has(mac MAC) bool {
	if _, ok := r.hot[mac]; ok {
		return true
	}
	_, ok := r.frozen[mac]
	return ok
}

// add holds p, hot.
func (r *records) add(p *Phone) {
	delete(r.frozen, p.MAC)
	r.hot[p.MAC] = p
}

// thaw returns mac's phone for changing, hot, or nil when it is not held.
func (r *records) thaw(mac MAC) *Phone {
	if p := r.hot[mac]; p != nil {
		return p
	}
	rec, ok := r.frozen[mac]
	if !ok {
		return nil
	}
	p := decodeFrozen(rec, mac, &Phone{})
	p.intern()
	delete(r.frozen, mac)
	r.hot[mac] = p
	return p
}

// peek returns mac's phone for reading: the hot one itself, or a frozen
// one decoded into scratch, which is overwritten. It returns nil when the
// phone is not held. The caller must not change what it returns.
func (r *records) peek(mac MAC, scratch *Phone) *Phone {
	if p := r.hot[mac]; p != nil {
		return p
	}
	rec, ok := r.frozen[mac]
	if !ok {
		return nil
	}
	return decodeFrozen(rec, mac, scratch)
}

// decodeFrozen decodes mac's frozen record into p and returns p.
func decodeFrozen(rec string, mac MAC, p *Phone) *Phone {
	if err := decodeRecord(rec, p); err != nil {
		// Only freeze writes these bytes, from a Phone appendPhone encodes
		// whole; a record that does not decode is a bug, not bad input.
		panic("inventory: a frozen record does not decode: " + err.Error())
	}
	p.MAC = mac
	return p
}

// each calls fn for every phone, in no order. A frozen phone is decoded
// into one Phone reused from call to call: fn must not change it or keep
// it (Phone.clone copies it).
func (r *records) each(fn func(p *Phone)) {
	for _, p := range r.hot {
		fn(p)
	}
	var scratch Phone
	for mac := range r.frozen {
		fn(r.peek(mac, &scratch))
	}
}

// eachFrame appends, through add, the journal frame of every phone's
// whole record: a frozen record is written as it is held.
func (r *records) eachFrame(add func(encode func([]byte) []byte)) {
	for _, p := range r.hot {
		add(func(dst []byte) []byte { return appendPhoneFrame(dst, p) })
	}
	for mac, rec := range r.frozen {
		add(func(dst []byte) []byte { return appendRecordFrame(dst, mac, rec) })
	}
}

// remove forgets mac's phone and returns its Phone when it was hot, for
// reuse, nil otherwise.
func (r *records) remove(mac MAC) *Phone {
	p := r.hot[mac]
	delete(r.hot, mac)
	delete(r.frozen, mac)
	return p
}

// freeze encodes every hot phone that is not in changed (the phones
// changed since the last flush) and holds it frozen instead.
func (r *records) freeze(changed map[MAC]change) {
	if len(r.hot) == 0 {
		return
	}
	for mac, p := range r.hot {
		if _, ok := changed[mac]; ok {
			continue
		}
		r.buf = appendPhone(r.buf[:0], p)
		r.frozen[mac] = string(r.buf)
		delete(r.hot, mac)
	}
	if len(r.hot) == 0 {
		// A map keeps the room of its largest size; after a storm (or the
		// load at start, when every phone is hot) that room is let go.
		r.hot = map[MAC]*Phone{}
	}
}
