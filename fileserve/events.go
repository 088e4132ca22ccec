package fileserve

import (
	"net/netip"
	"time"
)

// AccessEvent is one finished request on any protocol.
type AccessEvent struct {
	Time      time.Time
	Protocol  string // "http", "https" or "tftp"
	Client    netip.AddrPort
	Name      string // as the client asked for it
	Resolved  string // the name served; empty when nothing was
	Source    Source // where the content came from; empty when nothing was served
	Status    int    // HTTP status; TFTP outcomes use the same numbers (see tftpStatus)
	Bytes     int64  // body bytes sent
	Size      int64  // size of what was served (a whole transfer sends Size bytes, a range less)
	Duration  time.Duration
	UserAgent string // HTTP only
	Detail    string // why it failed, or protocol particulars
}

// AccessObserver receives every finished request. It is called on the
// serving goroutine, so it must return quickly.
type AccessObserver interface {
	ObserveAccess(AccessEvent)
}
