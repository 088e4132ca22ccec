package inventory

import (
	"unique"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// Bounds of an agentCache: each of its two generations holds up to
// agentGeneration User-Agents, each of at most agentCacheMaxLen bytes
// (a longer one is parsed every time), so it never holds more than a
// few hundred KiB.
const (
	agentGeneration  = 1024
	agentCacheMaxLen = 256
)

// parsedAgent is what the inventory keeps of a User-Agent it has read.
type parsedAgent struct {
	Agent
	ua       string // the User-Agent itself, held once for every request that sends it
	firmware string // Agent.Firmware in firmware.Canonical form, interned
}

// agentCache remembers what ParseUserAgent read from recent User-Agents,
// so a request does not run the parser's regular expressions again: phones
// of one model and firmware send one User-Agent (J100 phones add their
// MAC, so one per phone, and a phone fetches several files in a row). Two
// generations bound it: when the recent one is full it becomes the older
// one, and what the older one held is forgotten unless asked for again
// meanwhile. It is not safe for concurrent use: the Run goroutine owns it.
type agentCache struct {
	recent, older map[string]parsedAgent
	hits, misses  uint64
}

// parse returns what ua says, from the cache when it was read recently.
func (c *agentCache) parse(ua string) parsedAgent {
	if ua == "" {
		return parsedAgent{}
	}
	if p, ok := c.recent[ua]; ok {
		c.hits++
		return p
	}
	p, ok := c.older[ua]
	if ok {
		c.hits++
	} else {
		c.misses++
		p = parsedAgent{Agent: ParseUserAgent(ua), ua: ua}
		if p.Firmware != "" {
			p.firmware = unique.Make(firmware.Canonical(p.Firmware)).Value()
		}
	}
	if len(ua) <= agentCacheMaxLen {
		c.remember(p)
	}
	return p
}

// remember puts p in the recent generation, starting a new one when it is
// full (the older generation's map is emptied and reused).
func (c *agentCache) remember(p parsedAgent) {
	if c.recent == nil {
		c.recent, c.older = make(map[string]parsedAgent), make(map[string]parsedAgent)
	}
	if len(c.recent) >= agentGeneration {
		clear(c.older)
		c.recent, c.older = c.older, c.recent
	}
	c.recent[p.ua] = p
}
