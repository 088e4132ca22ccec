package inventory

import "container/heap"

// ageQueue orders phones by when they were last seen, oldest first, so a
// full inventory forgets the phone seen longest ago in O(log n).
//
// Entries are not moved when a phone is seen again (that happens for every
// fact); an entry that reaches the front with an out-of-date time is put
// back with the phone's current one instead. Entries hold no pointers, so
// the garbage collector does not scan them.
type ageQueue struct {
	entries ageEntries
}

type ageEntry struct {
	mac  MAC
	seen int64 // Phone.LastSeen in Unix nanoseconds when queued
}

type ageEntries []ageEntry

func (q ageEntries) Len() int           { return len(q) }
func (q ageEntries) Less(i, j int) bool { return q[i].seen < q[j].seen }
func (q ageEntries) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *ageEntries) Push(x any)        { *q = append(*q, x.(ageEntry)) }
func (q *ageEntries) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// add queues a phone that has just been created or loaded.
func (q *ageQueue) add(p *Phone) {
	heap.Push(&q.entries, ageEntry{mac: p.MAC, seen: p.LastSeen.UnixNano()})
}

// oldest removes and returns the phone seen longest ago, or nil when
// phones is empty. Entries of phones no longer in phones are dropped.
func (q *ageQueue) oldest(phones map[MAC]*Phone) *Phone {
	// Each pass either drops an entry or re-queues one with its phone's
	// current time, which the next time it comes up is returned: at most
	// two passes per entry.
	for range 2*len(q.entries) + 1 {
		if len(q.entries) == 0 {
			return nil
		}
		e := heap.Pop(&q.entries).(ageEntry)
		p := phones[e.mac]
		if p == nil {
			continue // forgotten
		}
		if now := p.LastSeen.UnixNano(); now != e.seen {
			heap.Push(&q.entries, ageEntry{mac: e.mac, seen: now})
			continue
		}
		return p
	}
	return nil
}

// tidy rebuilds the queue from phones when forgotten phones' entries have
// piled up (a phone forgotten and learnt again has two).
func (q *ageQueue) tidy(phones map[MAC]*Phone) {
	if len(q.entries) <= 2*len(phones)+64 {
		return
	}
	q.entries = q.entries[:0]
	for _, p := range phones {
		q.entries = append(q.entries, ageEntry{mac: p.MAC, seen: p.LastSeen.UnixNano()})
	}
	heap.Init(&q.entries)
}
