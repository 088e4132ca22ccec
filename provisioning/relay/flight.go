package relay

import "sync"

// flightGroup runs one call per key at a time: callers asking for a key
// whose call is running get that call instead of starting another, so a
// storm of phones asking for one file causes one download.
type flightGroup[T any] struct {
	mu    sync.Mutex
	calls map[string]*flight[T]
	wg    sync.WaitGroup
}

// flight is one running call; its result is readable once done is closed.
type flight[T any] struct {
	done   chan struct{}
	result T
}

// do returns the running call for key, or starts fn in a new goroutine.
func (g *flightGroup[T]) do(key string, fn func() T) *flight[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		return f
	}
	if g.calls == nil {
		g.calls = map[string]*flight[T]{}
	}
	f := &flight[T]{done: make(chan struct{})}
	g.calls[key] = f
	g.wg.Go(func() {
		f.result = fn()
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(f.done)
	})
	return f
}

// wait blocks until every call has returned.
func (g *flightGroup[T]) wait() { g.wg.Wait() }
