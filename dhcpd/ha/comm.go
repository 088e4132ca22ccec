package ha

import (
	"time"
)

// comm is what this server knows of its partner (Kea's
// CommunicationState4): the partner's last state, when it last answered,
// and the clients that asked us while the partner was silent. The caller
// holds the Service's lock.
type comm struct {
	partner     State
	lastContact time.Time // the last answer (or the start)
	everTouched bool
	scopes      []string
	skew        time.Duration
	// unsent is the partner's unsent-update-count; unsentSeen the value
	// when we last compared.
	unsent, unsentSeen int64
	// clients seen since the communication was interrupted, by client
	// (chaddr and client id): true once unacked.
	clients  map[string]bool
	unacked  int
	analyzed int64
}

func newComm(now time.Time) comm {
	return comm{partner: Unavailable, lastContact: now, clients: map[string]bool{}}
}

// poke records an answer from the partner; it clears the clients seen
// and the count of packets analysed (CommunicationState::pokeInternal,
// Kea 2.2: clearConnectingClients and analyzed_messages_count_ = 0).
func (c *comm) poke(now time.Time) {
	c.lastContact = now
	c.everTouched = true
	c.analyzed = 0
	if len(c.clients) > 0 {
		c.clients = map[string]bool{}
		c.unacked = 0
	}
}

// interrupted is isCommunicationInterrupted: silent for longer than
// maxResponse.
func (c *comm) interrupted(now time.Time, maxResponse time.Duration) bool {
	return now.Sub(c.lastContact) > maxResponse
}

// analyze is CommunicationState4::analyzeMessage: a client whose secs
// field is above maxAck is unacked. Byte-swapped secs (Windows clients
// send them) are put right first.
func (c *comm) analyze(secs uint16, client string, maxAck time.Duration) {
	c.analyzed++
	if secs > 255 && secs&0xff == 0 {
		secs = secs>>8 | secs<<8
	}
	unacked := time.Duration(secs)*time.Second > maxAck
	was, seen := c.clients[client]
	if !seen || (!was && unacked) {
		c.clients[client] = unacked
		if unacked {
			c.unacked++
		}
	}
}

// failure is failureDetected: more unacked clients than maxUnacked, or
// any interruption at all when maxUnacked is 0.
func (c *comm) failure(maxUnacked int) bool {
	return maxUnacked == 0 || c.unacked > maxUnacked
}

// newPartnerUnsent is hasPartnerNewUnsentUpdates: the partner's count of
// unsent updates changed to a non-zero value since we last looked.
func (c *comm) newPartnerUnsent() bool {
	changed := c.unsent > 0 && c.unsent != c.unsentSeen
	c.unsentSeen = c.unsent
	return changed
}
