package relay

import (
	"container/list"
	"sync"
)

// memoryCache holds the contents of recently served files so concurrent
// requests share one copy instead of each reading its own. It is bounded by
// total bytes and drops the least recently used file first. Byte slices
// handed out are never modified.
type memoryCache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	order  *list.List // of *memoryItem, most recent at the front
	byName map[string]*list.Element
}

type memoryItem struct {
	name  string
	stamp int64 // the cache file's stamp the data was read from
	data  []byte
}

func newMemoryCache(budget int64) *memoryCache {
	return &memoryCache{budget: budget, order: list.New(), byName: map[string]*list.Element{}}
}

// get returns name's contents if they were read from the file with stamp.
func (c *memoryCache) get(name string, stamp int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	it := el.Value.(*memoryItem)
	if it.stamp != stamp {
		return nil, false
	}
	c.order.MoveToFront(el)
	return it.data, true
}

// put keeps data for name, evicting older entries to stay in budget.
func (c *memoryCache) put(name string, stamp int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byName[name]; ok {
		c.drop(el)
	}
	size := int64(len(data))
	if size > c.budget {
		return
	}
	for c.used+size > c.budget {
		c.drop(c.order.Back())
	}
	c.byName[name] = c.order.PushFront(&memoryItem{name: name, stamp: stamp, data: data})
	c.used += size
}

func (c *memoryCache) drop(el *list.Element) {
	it := c.order.Remove(el).(*memoryItem)
	delete(c.byName, it.name)
	c.used -= int64(len(it.data))
}

// bytes is the total held.
func (c *memoryCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
