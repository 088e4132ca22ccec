package inventory

import (
	"sync"
	"time"
)

// Batching of the fact queue: the Run goroutine is woken by the first fact
// of a batch and folds the batch in batchWindow later, or at once when
// batchFacts are waiting. A server's goroutine that queues a fact thus
// wakes nobody except for the first fact of a window and a full batch,
// instead of handing every request to another thread.
const (
	batchWindow = 10 * time.Millisecond
	batchFacts  = 256
)

// factQueue hands facts from the servers' goroutines (push) to the Run
// goroutine (take) in batches. It holds at most limit facts; past that,
// push refuses them. Facts are copied in by value, and the consumer gives
// back the slice of the previous batch to be filled again, so queueing
// allocates nothing once the two slices have grown to the load.
type factQueue struct {
	limit int
	// wake tells the Run goroutine that a batch began or filled up; it
	// holds one signal, and a signal already waiting is enough.
	wake chan struct{}

	mu      sync.Mutex
	pending []fact
}

func newFactQueue(limit int) *factQueue {
	return &factQueue{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues f; false when the queue is full. It never blocks on the
// consumer.
func (q *factQueue) push(f *fact) bool {
	q.mu.Lock()
	n := len(q.pending)
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.pending = append(q.pending, *f)
	q.mu.Unlock()
	if n == 0 || n+1 == batchFacts {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// len is how many facts wait.
func (q *factQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// spareKeep is the most room, in facts, a spare batch may keep for the
// next ones: a backlog grows the batches to thousands of facts (a few
// hundred bytes each) during a storm, and keeping that room for the quiet
// that follows would hold megabytes for nothing.
const spareKeep = 2 * batchFacts

// take returns the waiting facts and puts spare (emptied; the previous
// batch, once folded in) in their place for the next ones; a spare with
// more room than spareKeep is dropped instead.
func (q *factQueue) take(spare []fact) []fact {
	if cap(spare) > spareKeep {
		spare = nil
	}
	clear(spare)
	q.mu.Lock()
	batch := q.pending
	q.pending = spare[:0]
	q.mu.Unlock()
	return batch
}
