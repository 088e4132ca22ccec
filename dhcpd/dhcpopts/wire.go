package dhcpopts

// RFC 3396: an option whose data is longer than 255 bytes is sent as several
// instances of the same code; the client concatenates them in order.
//
// github.com/insomniacslk/dhcp/dhcpv4 (the version in go.mod) already does
// this both ways: Options.Marshal, used by DHCPv4.ToBytes, cuts data longer
// than 255 bytes into consecutive 255-byte instances, and Options.FromBytes
// appends the data of repeated instances (o[code] = append(o[code], data...)).
// So with that package a server just stores the whole encoded value in
// DHCPv4.Options and no post-processing of its bytes is needed; see
// insomniac_test.go. What it does not do is keep a reply within the client's
// maximum message size: use Fit for that before filling Options.

// Split cuts option data into the pieces RFC 3396 sends as repeated
// instances of code: each at most 255 bytes, in order. Empty data gives one
// empty piece (a zero-length option). Codes 0 (pad) and 255 (end) carry no
// data, so Split returns nil for them. The pieces alias data.
func Split(code uint8, data []byte) [][]byte {
	if code == 0 || code == 255 {
		return nil
	}
	if len(data) == 0 {
		return [][]byte{data[:0:0]}
	}
	pieces := make([][]byte, 0, (len(data)+254)/255)
	for len(data) > 0 {
		n := min(len(data), 255)
		pieces = append(pieces, data[:n:n])
		data = data[n:]
	}
	return pieces
}

// AppendOption appends option code with data in wire form to dst: one
// code/length/data instance per piece of Split. It appends nothing for codes
// 0 and 255.
func AppendOption(dst []byte, code uint8, data []byte) []byte {
	for _, p := range Split(code, data) {
		dst = append(dst, code, byte(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

// WireLen is the number of bytes AppendOption writes for n bytes of data:
// the data plus two header bytes per 255-byte instance.
func WireLen(n int) int {
	if n <= 0 {
		return 2
	}
	return n + 2*((n+254)/255)
}
