package dhcpopts

import (
	"bytes"
	"fmt"
	"testing"
)

// concatOptions parses an options field the way RFC 3396 says a client
// must: the data of repeated instances of a code is joined in order.
func concatOptions(t *testing.T, b []byte) map[uint8][]byte {
	t.Helper()
	out := map[uint8][]byte{}
	for i := 0; i < len(b); {
		code := b[i]
		if code == 0 {
			i++
			continue
		}
		if code == 255 {
			break
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			t.Fatalf("truncated option %d at %d", code, i)
		}
		n := int(b[i+1])
		out[code] = append(out[code], b[i+2:i+2+n]...)
		i += 2 + n
	}
	return out
}

func TestSplitAndAppendOption(t *testing.T) {
	for _, n := range []int{0, 1, 254, 255, 256, 509, 510, 511, 600, 1000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		pieces := Split(242, data)
		wantPieces := max(1, (n+254)/255)
		if len(pieces) != wantPieces {
			t.Errorf("Split(%d bytes) gave %d pieces, want %d", n, len(pieces), wantPieces)
		}
		for i, p := range pieces {
			if len(p) > 255 || (i < len(pieces)-1 && len(p) != 255) {
				t.Errorf("Split(%d bytes): piece %d is %d bytes", n, i, len(p))
			}
		}
		if joined := bytes.Join(pieces, nil); !bytes.Equal(joined, data) {
			t.Errorf("Split(%d bytes) pieces do not join back", n)
		}
		wire := AppendOption([]byte{53, 1, 2}, 242, data)
		if got := len(wire) - 3; got != WireLen(n) {
			t.Errorf("AppendOption(%d bytes) wrote %d, WireLen says %d", n, got, WireLen(n))
		}
		got := concatOptions(t, append(wire, 255))
		if !bytes.Equal(got[242], data) || !bytes.Equal(got[53], []byte{2}) {
			t.Errorf("round trip of %d bytes failed", n)
		}
	}
	// Exact bytes of a 256-byte value: 255 + 1.
	data := bytes.Repeat([]byte{'x'}, 256)
	wire := AppendOption(nil, 242, data)
	want := append(append([]byte{242, 255}, data[:255]...), 242, 1, 'x')
	if !bytes.Equal(wire, want) {
		t.Errorf("AppendOption(256 bytes) = % x", wire)
	}
	if Split(0, data) != nil || Split(255, data) != nil || AppendOption(nil, 255, data) != nil {
		t.Error("pad/end options got data")
	}
	if WireLen(0) != 2 || WireLen(255) != 257 || WireLen(256) != 260 {
		t.Error("WireLen edge values wrong")
	}
}

func ExampleAppendOption() {
	value := bytes.Repeat([]byte{'a'}, 300)
	wire := AppendOption(nil, 242, value)
	fmt.Println(len(wire), wire[0], wire[1], wire[257], wire[258])
	// Output: 304 242 255 242 45
}
