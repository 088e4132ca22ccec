package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// tinyDisk mounts a 64 KiB tmpfs on a temporary folder and unmounts it
// when the test ends. Root needed.
func tinyDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64k,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes to path until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("f"), 4096)
	for range 1024 { // 4 MiB at most, far past the disk's size
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
	t.Fatal("the disk never filled up")
}

// A PUT to a full disk answers 507 Insufficient Storage, and the version
// stored before is still served whole; once there is room again, the
// upload goes through.
func TestPutOnFullDiskAnswers507(t *testing.T) {
	disk := tinyDisk(t)
	reg := prometheus.NewRegistry()
	s, err := New(DefaultConfig(), Options{Dir: filepath.Join(disk, "backup"), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	avaya := map[string]string{"User-Agent": "AVAYA/J179-4.1.3"}
	old := "SPEEDDIAL1=Alice 1001\n"
	if code, body := do(t, http.MethodPut, url, strings.NewReader(old), avaya); code != http.StatusCreated {
		t.Fatalf("first PUT: %d %s", code, body)
	}

	filler := filepath.Join(disk, "filler")
	fill(t, filler)
	big := strings.Repeat("SPEEDDIAL2=Bob 1002\n", 1600) // 32000 bytes
	code, body := do(t, http.MethodPut, url, strings.NewReader(big), avaya)
	if code != http.StatusInsufficientStorage {
		t.Errorf("PUT on a full disk: %d %q, want 507", code, body)
	}
	if got := current(t, s, "1234_96xxdata.txt"); got != old {
		t.Errorf("after the failed PUT the current version is %d bytes, want the previous one", len(got))
	}
	if code, body := do(t, http.MethodGet, url, nil, avaya); code != http.StatusOK || body != old {
		t.Errorf("GET after the failed PUT: %d %q", code, body)
	}
	if vs, err := s.Versions("1234_96xxdata.txt"); err != nil || len(vs) != 0 {
		t.Errorf("versions after the failed PUT: %v %v", vs, err)
	}
	assertNoTemp(t, filepath.Join(disk, "backup"))
	if got := gather(t, reg, "phoneprov_backup_refused_total", map[string]string{"reason": "disk_full"}); got != 1 {
		t.Errorf("refused{disk_full} = %v, want 1", got)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, http.MethodPut, url, strings.NewReader(big), avaya); code != http.StatusNoContent {
		t.Fatalf("PUT with room again: %d %s", code, body)
	}
	if got := current(t, s, "1234_96xxdata.txt"); got != big {
		t.Errorf("after the PUT with room: %d bytes", len(got))
	}
	if got := version(t, s, "1234_96xxdata.txt", 1); got != old {
		t.Errorf("version 1: %q, want the previous upload", got)
	}
}

// Over quota is a full disk too, however deep the error is wrapped; other
// store errors are internal errors. (A real EDQUOT needs a file system with
// quotas and a writer without CAP_SYS_RESOURCE; this kernel's tmpfs has no
// quota support.)
func TestStoreErrorStatus(t *testing.T) {
	s, _ := newTestStore(t, nil)
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("backup x: receive: %w", &fs.PathError{Op: "write", Path: ".tmp-x", Err: syscall.ENOSPC}), http.StatusInsufficientStorage},
		{fmt.Errorf("backup x: receive: %w", &fs.PathError{Op: "write", Path: ".tmp-x", Err: syscall.EDQUOT}), http.StatusInsufficientStorage},
		{fmt.Errorf("backup: keep version of x: %w", &os.LinkError{Op: "link", Old: "x", New: ".versions/x.1", Err: syscall.EDQUOT}), http.StatusInsufficientStorage},
		{fmt.Errorf("backup: sync folder: %w", syscall.EIO), http.StatusInternalServerError},
		{errors.New("anything else"), http.StatusInternalServerError},
	} {
		rec := httptest.NewRecorder()
		s.failed(rec, httptest.NewRequest(http.MethodPut, "/backup/x", nil), "x", c.err)
		if rec.Code != c.want {
			t.Errorf("%v: %d, want %d", c.err, rec.Code, c.want)
		}
	}
}
