package tftpd

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestParseRequest(t *testing.T) {
	r, err := parseRequest(rq(opRRQ, "Dir/File.BIN", "NetAscii", "BlkSize", "1428", "tsize", "0", "blksize", "9999", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if r.op != opRRQ || r.filename != "Dir/File.BIN" || r.mode != "netascii" ||
		len(r.options) != 2 || r.options["blksize"] != "1428" || r.options["tsize"] != "0" {
		t.Fatalf("%+v", r)
	}
	for _, b := range [][]byte{nil, {0}, {0, 3}, {0, 1, 'a'}, {0, 1, 'a', 0, 'o'}} {
		if _, err := parseRequest(b); err == nil {
			t.Errorf("%q parsed", b)
		} else if err.(*parseError).reply {
			t.Errorf("%q would be answered", b)
		}
	}
	for _, b := range [][]byte{rq(opRRQ, "a", "mail"), rq(opRRQ, "", "octet")} {
		if _, err := parseRequest(b); err == nil || !err.(*parseError).reply {
			t.Errorf("%q: %v", b, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(rq(opRRQ, "a.bin", "octet", "blksize", "1428", "tsize", "0"))
	f.Add(rq(opWRQ, "x", "netascii"))
	f.Add(rq(opRRQ, "x", "octet", "windowsize"))
	f.Add([]byte{0, 1, 0, 0})
	f.Add([]byte{0, 1})
	f.Add([]byte{0, 9, 'a', 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := parseRequest(p)
		if err != nil {
			return
		}
		if r.op != opRRQ && r.op != opWRQ || r.filename == "" || (r.mode != "octet" && r.mode != "netascii") {
			t.Fatalf("accepted %+v", r)
		}
		// Re-encoding the parsed request parses to the same thing.
		var opts []string
		for k, v := range r.options {
			if k == "" {
				t.Fatal("empty option name")
			}
			opts = append(opts, k, v)
		}
		r2, err := parseRequest(rq(r.op, r.filename, r.mode, opts...))
		if err != nil || r2.filename != r.filename || r2.mode != r.mode || len(r2.options) != len(r.options) {
			t.Fatalf("round trip: %+v, %v", r2, err)
		}
	})
}

// netasciiRef is the straightforward netascii encoding of b.
func netasciiRef(b []byte) []byte {
	var out []byte
	for _, c := range b {
		switch c {
		case '\n':
			out = append(out, '\r', '\n')
		case '\r':
			out = append(out, '\r', 0)
		default:
			out = append(out, c)
		}
	}
	return out
}

func TestNetasciiEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n")
	for iter := range 300 {
		src := make([]byte, rng.IntN(3000))
		for i := range src {
			src[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if iter == 0 {
			src = []byte("\r\r\n\n\r")
		}
		want := netasciiRef(src)
		f := bytes.NewReader(src)
		size, err := netasciiSize(f, int64(len(src)), make([]byte, 7))
		if err != nil || size != int64(len(want)) {
			t.Fatalf("netasciiSize %d, %v; want %d", size, err, len(want))
		}
		bs := []int{8, 9, 13, 512}[iter%4]
		dst, scratch := make([]byte, bs), make([]byte, bs)
		var got []byte
		var m netasciiMark
		for {
			// Filling twice from the same mark (a retransmission) gives
			// the same block.
			n, next, err := fillNetascii(dst, scratch, f, int64(len(src)), m)
			if err != nil {
				t.Fatal(err)
			}
			block := append([]byte(nil), dst[:n]...)
			n2, next2, _ := fillNetascii(dst, scratch, f, int64(len(src)), m)
			if n2 != n || next2 != next || !bytes.Equal(block, dst[:n2]) {
				t.Fatal("refill differs")
			}
			got = append(got, block...)
			if next.out != int64(len(got)) {
				t.Fatalf("mark out %d, want %d", next.out, len(got))
			}
			m = next
			if n < bs {
				break
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("bs %d: %q\nwant %q", bs, got, want)
		}
	}
}
