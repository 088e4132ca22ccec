package main

import (
	"fmt"
	"strconv"
	"strings"
)

// durability is what a syscall trace of a few DORAs shows about when a
// server makes a lease durable.
type durability struct {
	Acks          int   // ACKs the server sent while traced
	AcksAfterSync int   // ACKs preceded, since their OFFER, by a completed fsync/fdatasync of the lease file
	Syncs         int   // syncs of the lease file while traced
	LeaseWrites   int   // write calls to the lease file while traced
	LeaseBytes    int64 // bytes those calls wrote
}

// durable reports whether every ACK traced followed a sync of its lease.
func (d durability) durable() bool { return d.Acks > 0 && d.AcksAfterSync == d.Acks }

// traceEvent is one syscall of interest in a trace.
type traceEvent struct {
	at    float64 // seconds: entry for sends, completion for syncs and writes
	kind  byte    // 's' send, 'f' sync of the lease file, 'w' write to the lease file
	msg   byte    // DHCP message type of a send (2 OFFER, 5 ACK, 6 NAK), 0 if not DHCP
	bytes int64   // bytes written, for 'w'
}

// syscall names the trace is taken with (strace -e trace=…).
const (
	traceSends  = "sendto,sendmsg,sendmmsg"
	traceSyncs  = "fsync,fdatasync,sync_file_range,msync"
	traceWrites = "write,writev,pwrite64,pwritev,pwritev2"
)

// analyzeTrace reads the output of `strace -f -ttt -T -y -xx -s N` and
// decides, for every DHCPACK sent, whether a sync of leaseFile completed
// between the OFFER before it and the ACK itself. The calls are the ones
// named by traceSends, traceSyncs and traceWrites; lines from threads
// interleave, with "<unfinished ...>" and "<... resumed>" halves.
func analyzeTrace(text, leaseFile string) (durability, error) {
	events, err := traceEvents(text, leaseFile)
	if err != nil {
		return durability{}, err
	}
	var d durability
	var syncs []float64
	lastOffer := -1.0
	for _, e := range events {
		switch {
		case e.kind == 'f':
			d.Syncs++
			syncs = append(syncs, e.at)
		case e.kind == 'w':
			d.LeaseWrites++
			d.LeaseBytes += e.bytes
		case e.msg == 2: // OFFER
			lastOffer = e.at
		case e.msg == 5: // ACK
			d.Acks++
			for _, at := range syncs {
				if at > lastOffer && at <= e.at {
					d.AcksAfterSync++
					break
				}
			}
		}
	}
	return d, nil
}

// pendingCall is the first half of a syscall split by another thread.
type pendingCall struct {
	name   string
	isFile bool // its descriptor is the lease file
}

// traceEvents turns trace lines into time-ordered events.
func traceEvents(text, leaseFile string) ([]traceEvent, error) {
	var events []traceEvent
	pending := map[string]pendingCall{}
	for line := range strings.Lines(text) {
		pid, at, rest, ok := splitTraceLine(line)
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			p, ok := pending[pid]
			delete(pending, pid)
			if !ok {
				continue
			}
			if e, ok := fileEvent(p, at, rest); ok {
				events = append(events, e)
			}
			continue
		}
		open := strings.IndexByte(rest, '(')
		if open <= 0 {
			continue // signals, exits
		}
		name, args := rest[:open], rest[open+1:]
		isFile := fdPath(args) == leaseFile
		if isSend(name) {
			if msg := dhcpMessageType(args); msg != 0 {
				events = append(events, traceEvent{at: at, kind: 's', msg: msg})
			}
		}
		p := pendingCall{name: name, isFile: isFile}
		if strings.HasSuffix(rest, "<unfinished ...>") {
			pending[pid] = p
			continue
		}
		end := at + callDuration(rest)
		if e, ok := fileEvent(p, end, rest); ok {
			events = append(events, e)
		}
	}
	return events, nil
}

// splitTraceLine splits "PID TIME CALL…" (strace pads the pid with spaces)
// or, traced without -f, "TIME CALL…".
func splitTraceLine(line string) (pid string, at float64, rest string, ok bool) {
	first, tail, found := strings.Cut(strings.TrimSpace(line), " ")
	if !found {
		return "", 0, "", false
	}
	tail = strings.TrimLeft(tail, " ")
	if strings.Contains(first, ".") { // no pid column
		at, err := strconv.ParseFloat(first, 64)
		return "", at, tail, err == nil
	}
	second, rest, found := strings.Cut(tail, " ")
	if !found {
		return "", 0, "", false
	}
	at, err := strconv.ParseFloat(second, 64)
	return first, at, strings.TrimLeft(rest, " "), err == nil
}

// fileEvent makes the event for a finished sync of or write to the lease
// file; tail holds the call's "= result".
func fileEvent(p pendingCall, at float64, tail string) (traceEvent, bool) {
	if !p.isFile {
		return traceEvent{}, false
	}
	ret, ok := callResult(tail)
	if !ok || ret < 0 {
		return traceEvent{}, false
	}
	switch {
	case strings.Contains(","+traceSyncs+",", ","+p.name+","):
		return traceEvent{at: at, kind: 'f'}, true
	case strings.Contains(","+traceWrites+",", ","+p.name+","):
		return traceEvent{at: at, kind: 'w', bytes: ret}, true
	}
	return traceEvent{}, false
}

func isSend(name string) bool { return strings.Contains(","+traceSends+",", ","+name+",") }

// fdPath returns the path strace -y prints after the first argument's
// descriptor, as in "7</var/lib/x/leases.journal>, …" (hex-escaped under -xx).
func fdPath(args string) string {
	lt := strings.IndexByte(args, '<')
	if lt < 0 || strings.ContainsAny(args[:lt], ",)") {
		return ""
	}
	gt := strings.Index(args[lt:], ">")
	if gt < 0 {
		return ""
	}
	return unescape(args[lt+1 : lt+gt])
}

// unescape decodes the \xNN escapes strace -xx prints; anything else is
// kept as it is.
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// callResult reads the return value after the last " = ".
func callResult(s string) (int64, bool) {
	i := strings.LastIndex(s, ") = ")
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+4:])
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	return n, err == nil
}

// callDuration reads strace -T's "<0.000123>" at the end of a line.
func callDuration(s string) float64 {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, '<')
	if i < 0 || !strings.HasSuffix(s, ">") {
		return 0
	}
	d, err := strconv.ParseFloat(s[i+1:len(s)-1], 64)
	if err != nil {
		return 0
	}
	return d
}

// dhcpMessageType looks at every string argument printed with -xx (a
// sendmsg shows the address before the payload) and returns option 53 of
// the first that is a DHCP message, or 0.
func dhcpMessageType(args string) byte {
	for {
		q := strings.Index(args, `"\x`)
		if q < 0 {
			return 0
		}
		args = args[q+1:]
		end := strings.IndexByte(args, '"')
		if end < 0 {
			return 0
		}
		if t := messageTypeOf([]byte(unescape(args[:end]))); t != 0 {
			return t
		}
		args = args[end+1:]
	}
}

// messageTypeOf returns the DHCP message type (option 53) of a packet that
// may start with IP and UDP headers: the options follow the magic cookie.
func messageTypeOf(b []byte) byte {
	cookie := []byte{0x63, 0x82, 0x53, 0x63}
	i := strings.Index(string(b), string(cookie))
	if i < 0 {
		return 0
	}
	opts := b[i+4:]
	for len(opts) >= 2 {
		code := opts[0]
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if code == 255 {
			return 0
		}
		n := int(opts[1])
		if len(opts) < 2+n {
			return 0
		}
		if code == 53 && n == 1 {
			return opts[2]
		}
		opts = opts[2+n:]
	}
	return 0
}

// describe says in words what the trace shows.
func (d durability) describe() string {
	if d.Acks == 0 {
		return "no ACK seen in the trace"
	}
	return fmt.Sprintf("%d/%d ACKs sent after an fsync/fdatasync of the lease file; %d syncs, %d writes (%s bytes) to it",
		d.AcksAfterSync, d.Acks, d.Syncs, d.LeaseWrites, strconv.FormatInt(d.LeaseBytes, 10))
}
