package tftpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// serve runs pin/tftp's server (an independent implementation) with files
// on loopback. truncate names files whose tsize is announced one byte
// larger than what is sent.
func serve(t *testing.T, files map[string][]byte, lie map[string]bool) netip.AddrPort {
	t.Helper()
	srv := tftp.NewServer(func(name string, rf io.ReaderFrom) error {
		b, ok := files[name]
		if !ok {
			return fmt.Errorf("%s: %w", name, os.ErrNotExist)
		}
		if lie[name] {
			rf.(tftp.OutgoingTransfer).SetSize(int64(len(b) + 1))
		} else {
			rf.(tftp.OutgoingTransfer).SetSize(int64(len(b)))
		}
		_, err := rf.ReadFrom(bytes.NewReader(b))
		return err
	}, nil)
	srv.SetTimeout(time.Second)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(conn)
	t.Cleanup(srv.Shutdown)
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestGet(t *testing.T) {
	big := make([]byte, 100_000)
	rand.Read(big)
	exact := make([]byte, 1428*3) // a multiple of the block size ends with an empty block
	rand.Read(exact)
	files := map[string][]byte{"fw.bin": big, "exact.bin": exact, "small.txt": []byte("SET A 1\n"), "empty": {}}
	srv := serve(t, files, nil)
	for name, want := range files {
		for _, opts := range []Options{{}, {BlockSize: 1428, TSize: true}} {
			var buf bytes.Buffer
			info, err := Get(context.Background(), loopback, srv, name, &buf, opts)
			if err != nil {
				t.Fatalf("%s %+v: %v", name, opts, err)
			}
			if !bytes.Equal(buf.Bytes(), want) || info.Bytes != int64(len(want)) {
				t.Errorf("%s %+v: got %d bytes (info %d), want %d", name, opts, buf.Len(), info.Bytes, len(want))
			}
			// pin/tftp announces no tsize for an empty file.
			if opts.TSize && len(want) > 0 && info.TSize != int64(len(want)) {
				t.Errorf("%s: tsize %d, want %d", name, info.TSize, len(want))
			}
			if opts.BlockSize > 0 && info.BlockSize != opts.BlockSize {
				t.Errorf("%s: blksize %d", name, info.BlockSize)
			}
		}
	}
}

func TestNotFound(t *testing.T) {
	srv := serve(t, map[string][]byte{}, nil)
	_, err := Get(context.Background(), loopback, srv, "missing.txt", io.Discard, Options{TSize: true})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestSizeMismatch(t *testing.T) {
	srv := serve(t, map[string][]byte{"a": []byte("hello")}, map[string]bool{"a": true})
	_, err := Get(context.Background(), loopback, srv, "a", io.Discard, Options{TSize: true})
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("err = %v, want ErrSizeMismatch", err)
	}
}

func TestTimeout(t *testing.T) {
	// A socket that never answers.
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	info, err := Get(context.Background(), loopback, silent.LocalAddr().(*net.UDPAddr).AddrPort(), "x", io.Discard, Options{Timeout: 50 * time.Millisecond, Retries: 3})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if info.Resent != 3 {
		t.Errorf("resent %d, want 3", info.Resent)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestContextCancel(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Get(ctx, loopback, silent.LocalAddr().(*net.UDPAddr).AddrPort(), "x", io.Discard, Options{Timeout: 10 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

func TestMaxBytes(t *testing.T) {
	srv := serve(t, map[string][]byte{"big": make([]byte, 5000)}, nil)
	if _, err := Get(context.Background(), loopback, srv, "big", io.Discard, Options{MaxBytes: 1000}); err == nil {
		t.Fatal("no error past MaxBytes")
	}
}
