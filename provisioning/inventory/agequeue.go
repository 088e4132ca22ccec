package inventory

// ageQueue orders phones by when they were last seen, oldest first, so a
// full inventory forgets the phone seen longest ago in O(log n).
//
// Entries are not moved when a phone is seen again (that happens for every
// fact); an entry that reaches the front with an out-of-date time is put
// back with the phone's current one instead. Entries hold no pointers, so
// the garbage collector does not scan them.
type ageQueue struct {
	entries []ageEntry // a binary min-heap by seen
}

type ageEntry struct {
	mac  MAC
	seen int64 // Phone.LastSeen in Unix nanoseconds when queued
}

// add queues a phone that has just been created or loaded.
func (q *ageQueue) add(p *Phone) { q.push(ageEntry{mac: p.MAC, seen: p.LastSeen.UnixNano()}) }

// oldest removes and returns the phone of phones seen longest ago, or nil
// when none is held; a frozen one is decoded into scratch (records.peek).
// Entries of phones forgotten since they were queued are dropped.
func (q *ageQueue) oldest(phones *records, scratch *Phone) *Phone {
	// Each pass either drops an entry or re-queues one with its phone's
	// current time, which the next time it comes up is returned: at most
	// two passes per entry.
	for range 2*len(q.entries) + 1 {
		if len(q.entries) == 0 {
			return nil
		}
		e := q.pop()
		p := phones.peek(e.mac, scratch)
		if p == nil {
			continue // forgotten
		}
		if now := p.LastSeen.UnixNano(); now != e.seen {
			q.push(ageEntry{mac: e.mac, seen: now})
			continue
		}
		return p
	}
	return nil
}

// untidy reports whether forgotten phones' entries have piled up (a phone
// forgotten and learnt again has two) past what held phones need.
func (q *ageQueue) untidy(held int) bool { return len(q.entries) > 2*held+64 }

// rebuild refills the queue from every held phone, which each lists.
func (q *ageQueue) rebuild(each func(func(*Phone))) {
	q.entries = q.entries[:0]
	each(func(p *Phone) { q.push(ageEntry{mac: p.MAC, seen: p.LastSeen.UnixNano()}) })
}

// push and pop keep entries a heap without container/heap, whose any
// parameters would box (allocate) every entry.
func (q *ageQueue) push(e ageEntry) {
	q.entries = append(q.entries, e)
	h := q.entries
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent].seen <= h[i].seen {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

func (q *ageQueue) pop() ageEntry {
	h := q.entries
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].seen < h[small].seen {
			small = l
		}
		if r < len(h) && h[r].seen < h[small].seen {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	q.entries = h
	return top
}
