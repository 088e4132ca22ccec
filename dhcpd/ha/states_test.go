package ha

import "testing"

// TestNext checks transitions of Kea's hot-standby state handlers
// (ha_service.cc) one by one.
func TestNext(t *testing.T) {
	cases := []struct {
		name string
		v    view
		want State
	}{
		{"both waiting: primary syncs first", view{self: Waiting, partner: Waiting, primary: true}, Syncing},
		{"both waiting: standby waits", view{self: Waiting, partner: Waiting}, Waiting},
		{"waiting, partner ready: sync", view{self: Waiting, partner: Ready}, Syncing},
		{"waiting, partner in partner-down: sync", view{self: Waiting, partner: PartnerDown}, Syncing},
		{"waiting, partner syncing: wait", view{self: Waiting, partner: Syncing, primary: true}, Waiting},
		{"waiting, partner silent, not yet interrupted", view{self: Waiting, partner: Unavailable, primary: true}, Waiting},
		{"waiting, partner silent past max-response-delay", view{self: Waiting, partner: Unavailable, interrupted: true}, PartnerDown},
		{"both ready: primary first", view{self: Ready, partner: Ready, primary: true}, HotStandby},
		{"both ready: standby waits", view{self: Ready, partner: Ready}, Ready},
		{"ready, partner hot-standby", view{self: Ready, partner: HotStandby}, HotStandby},
		{"primary, partner silent, interrupted", view{self: HotStandby, partner: Unavailable, primary: true, interrupted: true}, PartnerDown},
		{"standby, interrupted but clients answered", view{self: HotStandby, partner: Unavailable, interrupted: true}, HotStandby},
		{"standby, interrupted and clients unanswered", view{self: HotStandby, partner: Unavailable, interrupted: true, failure: true}, PartnerDown},
		{"standby disabled by the partner, interrupted: no traffic to judge by", view{self: HotStandby, partner: Unavailable, interrupted: true, disabled: true}, PartnerDown},
		{"standby, failure without interruption", view{self: HotStandby, partner: Unavailable, failure: true}, HotStandby},
		{"hot-standby, partner went partner-down", view{self: HotStandby, partner: PartnerDown}, Waiting},
		{"partner-down, partner ready, nothing unsent", view{self: PartnerDown, partner: Ready}, HotStandby},
		{"partner-down, partner ready with unsent updates", view{self: PartnerDown, partner: Ready, partnerUnsent: true}, Waiting},
		{"partner-down, partner still silent", view{self: PartnerDown, partner: Unavailable, interrupted: true}, PartnerDown},
		{"syncing, partner silent, interrupted", view{self: Syncing, partner: Unavailable, interrupted: true}, PartnerDown},
		{"clock skew terminates", view{self: HotStandby, partner: HotStandby, skew: true}, Terminated},
		{"terminated stays", view{self: Terminated, partner: Ready}, Terminated},
		{"partner load-balancing is invalid", view{self: HotStandby, partner: LoadBalancing}, Waiting},
		{"partner terminated", view{self: HotStandby, partner: Terminated}, Terminated},
	}
	for _, c := range cases {
		if got := next(c.v); got != c.want {
			t.Errorf("%s: next = %s, want %s", c.name, got, c.want)
		}
	}
}

// TestCommFailureDetection follows CommunicationState4: clients whose secs
// exceed max-ack-delay count once each; more than max-unacked-clients is a
// failure; an answer from the partner clears them.
func TestCommFailureDetection(t *testing.T) {
	c := newComm(epoch)
	const maxAck = 10 * second
	c.analyze(5, "a", maxAck)
	c.analyze(11, "b", maxAck)
	c.analyze(12, "b", maxAck)     // the same client again
	c.analyze(0x0b00, "c", maxAck) // swapped bytes: 11 s
	if c.unacked != 2 {
		t.Fatalf("unacked = %d, want 2", c.unacked)
	}
	if c.failure(2) {
		t.Error("2 unacked is not more than 2")
	}
	c.analyze(20, "a", maxAck) // a now waited too long
	if !c.failure(2) {
		t.Error("3 unacked is more than 2")
	}
	fresh := newComm(epoch)
	if !c.failure(0) || !fresh.failure(0) {
		t.Error("max-unacked-clients 0 is a failure at once")
	}
	c.poke(epoch.Add(second))
	if c.unacked != 0 || c.failure(2) {
		t.Errorf("after an answer: unacked %d", c.unacked)
	}
	if c.interrupted(epoch.Add(second+maxAck), maxAck) || !c.interrupted(epoch.Add(2*second+maxAck), maxAck) {
		t.Error("interrupted is silent for more than max-response-delay")
	}
}
