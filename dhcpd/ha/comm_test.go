package ha

import (
	"testing"
	"time"
)

// TestPokeResetsAnalyzed: an answer from the partner clears what was
// gathered while it was silent, the analysed-packet count with the
// clients, as Kea's CommunicationState::pokeInternal does.
func TestPokeResetsAnalyzed(t *testing.T) {
	c := newComm(epoch)
	c.analyze(0, "client-1", time.Second)
	c.analyze(30, "client-2", time.Second)
	if c.analyzed != 2 || c.unacked != 1 {
		t.Fatalf("before the answer: analysed %d, unacked %d", c.analyzed, c.unacked)
	}
	c.poke(epoch.Add(time.Second))
	if c.analyzed != 0 || c.unacked != 0 || len(c.clients) != 0 {
		t.Errorf("after the answer: analysed %d, unacked %d, clients %d; want all 0", c.analyzed, c.unacked, len(c.clients))
	}
}
