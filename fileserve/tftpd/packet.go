package tftpd

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

// TFTP opcodes.
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// TFTP error codes.
const (
	codeUndefined    = 0
	codeNotFound     = 1
	codeAccess       = 2
	codeIllegalOp    = 4
	codeUnknownTID   = 5
	codeOptionRefuse = 8
)

const (
	maxBlockSize  = 65464 // RFC 2348
	minBlockSize  = 8     // RFC 2348
	maxErrMsgLen  = 255   // we truncate our own error messages to this
	maxRequestLen = 65536 // a request can be at most one UDP datagram
)

// request is a parsed RRQ or WRQ.
type request struct {
	op       uint16
	filename string
	mode     string            // lowercased
	options  map[string]string // keys lowercased; nil when none
}

// parseError says why a request could not be parsed and whether the client
// deserves an answer (code 4) or the packet is silently dropped.
type parseError struct {
	reply bool
	msg   string
}

func (e *parseError) Error() string { return e.msg }

// parseRequest parses an RRQ or WRQ packet:
//
//	opcode(2) filename NUL mode NUL [option NUL value NUL]...
//
// Filename and mode must be NUL-terminated. Options are parsed leniently: a
// trailing option without a value or without a terminating NUL is ignored,
// and of repeated options the first wins. It never panics.
func parseRequest(p []byte) (request, error) {
	if len(p) < 2 {
		return request{}, &parseError{msg: "packet shorter than an opcode"}
	}
	op := binary.BigEndian.Uint16(p)
	if op != opRRQ && op != opWRQ {
		return request{}, &parseError{msg: "not a request opcode " + strconv.Itoa(int(op))}
	}
	rest := p[2:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return request{}, &parseError{msg: "filename not NUL-terminated"}
	}
	filename := rest[:i]
	rest = rest[i+1:]
	i = bytes.IndexByte(rest, 0)
	if i < 0 {
		return request{}, &parseError{msg: "mode not NUL-terminated"}
	}
	mode := strings.ToLower(string(rest[:i]))
	rest = rest[i+1:]
	r := request{op: op, filename: string(filename), mode: mode}
	if len(filename) == 0 {
		return r, &parseError{reply: true, msg: "empty filename"}
	}
	if mode != "octet" && mode != "netascii" {
		return r, &parseError{reply: true, msg: "unsupported transfer mode " + strconv.Quote(mode)}
	}
	for len(rest) > 0 {
		i = bytes.IndexByte(rest, 0)
		if i < 0 {
			break
		}
		name := rest[:i]
		rest = rest[i+1:]
		i = bytes.IndexByte(rest, 0)
		if i < 0 {
			break
		}
		value := rest[:i]
		rest = rest[i+1:]
		if len(name) == 0 {
			continue
		}
		key := strings.ToLower(string(name))
		if r.options == nil {
			r.options = make(map[string]string, 4)
		}
		if _, dup := r.options[key]; !dup {
			r.options[key] = string(value)
		}
	}
	return r, nil
}

// appendError appends an ERROR packet. The message is truncated to
// maxErrMsgLen bytes and cut at any NUL.
func appendError(b []byte, code int, msg string) []byte {
	if i := strings.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > maxErrMsgLen {
		msg = msg[:maxErrMsgLen]
	}
	b = binary.BigEndian.AppendUint16(b, opERROR)
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	b = append(b, msg...)
	return append(b, 0)
}

// appendOption appends "name NUL value NUL" to an OACK being built.
func appendOption(b []byte, name string, value int64) []byte {
	b = append(b, name...)
	b = append(b, 0)
	b = strconv.AppendInt(b, value, 10)
	return append(b, 0)
}

// parseErrorPacket returns the code and message of an ERROR packet p
// (opcode already checked). A missing NUL is tolerated.
func parseErrorPacket(p []byte) (int, string) {
	if len(p) < 4 {
		return 0, ""
	}
	msg := p[4:]
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	return int(binary.BigEndian.Uint16(p[2:])), string(msg)
}
