package durable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func appendTestFrame(dst []byte, body string) []byte {
	start := len(dst)
	dst = BeginFrame(dst)
	dst = append(dst, body...)
	return EndFrame(dst, start)
}

func TestFrameRoundTripAndTornAtEveryByte(t *testing.T) {
	f := appendTestFrame(nil, "hello, journal")
	size, ok := CheckFrame(f, 64)
	if !ok || size != len(f) || string(f[4:len(f)-4]) != "hello, journal" {
		t.Fatalf("CheckFrame = %d, %v, body %q", size, ok, f[4:len(f)-4])
	}
	for n := range len(f) {
		if _, ok := CheckFrame(f[:n], 64); ok {
			t.Errorf("a frame cut to %d of %d bytes passed", n, len(f))
		}
	}
	for i := range len(f) {
		bad := append([]byte(nil), f...)
		bad[i] ^= 0x10
		if _, ok := CheckFrame(bad, 64); ok {
			t.Errorf("a frame with byte %d flipped passed", i)
		}
	}
	if _, ok := CheckFrame(f, 4); ok {
		t.Error("a frame over maxBody passed")
	}
	f[4] = 'j'
	ResealFrame(f)
	if _, ok := CheckFrame(f, 64); !ok || string(f[4:len(f)-4]) != "jello, journal" {
		t.Errorf("resealed frame: ok %v, body %q", ok, f[4:len(f)-4])
	}
}

func TestFrameAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf = appendTestFrame(buf[:0], "a lease record")
	})
	if allocs != 0 {
		t.Errorf("appending a frame allocates %v times", allocs)
	}
}

func TestHeader(t *testing.T) {
	h := AppendHeader(nil, "TESTMAGI", 3)
	if len(h) != HeaderSize {
		t.Fatalf("header of %d bytes", len(h))
	}
	if v, err := CheckHeader(h, "TESTMAGI"); err != nil || v != 3 {
		t.Fatalf("CheckHeader = %d, %v", v, err)
	}
	for n := range HeaderSize {
		if _, err := CheckHeader(h[:n], "TESTMAGI"); !errors.Is(err, ErrTornHeader) {
			t.Errorf("header cut to %d bytes: %v, want ErrTornHeader", n, err)
		}
	}
	if _, err := CheckHeader([]byte("something else entirely"), "TESTMAGI"); !errors.Is(err, ErrForeignFile) {
		t.Errorf("foreign file: %v", err)
	}
	if _, err := CheckHeader([]byte("short"), "TESTMAGI"); !errors.Is(err, ErrForeignFile) {
		t.Errorf("short foreign file: %v", err)
	}
	h[9] ^= 1
	if _, err := CheckHeader(h, "TESTMAGI"); !errors.Is(err, ErrHeaderChecksum) {
		t.Errorf("damaged header: %v", err)
	}
}

func TestCutTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j")
	data := appendTestFrame(AppendHeader(nil, "TESTMAGI", 1), "one")
	end := len(data)
	data = appendTestFrame(data, "two")[:len(data)+5] // torn
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := CutTail(f, int64(end)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Size() != int64(end) {
		t.Errorf("size %d after the cut, want %d", fi.Size(), end)
	}
}

func TestGrown(t *testing.T) {
	for _, c := range []struct {
		size, base, min, factor int64
		want                    bool
	}{
		{100, 10, 1000, 2, false}, // below the minimum
		{2000, 1000, 1000, 2, false},
		{2001, 1000, 1000, 2, true},
		{3000, 1000, 1000, 4, false},
		{4001, 1000, 1000, 4, true},
	} {
		if got := Grown(c.size, c.base, c.min, c.factor); got != c.want {
			t.Errorf("Grown(%d, %d, %d, %d) = %v", c.size, c.base, c.min, c.factor, got)
		}
	}
}
