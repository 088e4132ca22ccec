package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/durable"
)

func newTestStore(t *testing.T, mutate func(*Config)) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "backup")
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, Options{Dir: dir, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func put(t *testing.T, s *Store, name, body string) PutResult {
	t.Helper()
	res, err := s.Put(context.Background(), name, strings.NewReader(body))
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	return res
}

func current(t *testing.T, s *Store, name string) string {
	t.Helper()
	f, _, err := s.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func version(t *testing.T, s *Store, name string, n int) string {
	t.Helper()
	f, _, err := s.OpenVersion(name, n)
	if err != nil {
		t.Fatalf("open %s version %d: %v", name, n, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

func TestDefaultConfigIsValid(t *testing.T) {
	DefaultConfig().Validate(func(key string, err error) { t.Errorf("%s: %v", key, err) })
}

func TestValidateReportsEachProblem(t *testing.T) {
	c := DefaultConfig()
	c.Path = "backup"
	c.MaxBytes = 0
	c.Versions = -1
	c.MaxFiles = -1
	c.NamePattern = "(["
	c.Users = []User{{Name: "a:b", Password: "x"}, {Name: "", Password: ""}, {Name: "u", Password: "p"}, {Name: "u", Password: "p"}}
	got := map[string]bool{}
	c.Validate(func(key string, err error) { got[key] = true })
	for _, k := range []string{"path", "max_bytes", "versions", "max_files", "name_pattern",
		"users[0].name", "users[1].name", "users[1].password", "users[3]"} {
		if !got[k] {
			t.Errorf("no problem reported for %s (got %v)", k, got)
		}
	}
	if got["users[2]"] {
		t.Errorf("first of a duplicated pair reported")
	}
}

func TestVersionsRotate(t *testing.T) {
	s, _ := newTestStore(t, func(c *Config) { c.Versions = 3 })
	if res := put(t, s, "1234_96xxdata.txt", "v1"); !res.Created || res.Bytes != 2 {
		t.Fatalf("first put: %+v", res)
	}
	for _, b := range []string{"v2", "v3", "v4", "v5"} {
		if res := put(t, s, "1234_96xxdata.txt", b); res.Created {
			t.Fatalf("put %s: reported as created", b)
		}
	}
	if got := current(t, s, "1234_96xxdata.txt"); got != "v5" {
		t.Fatalf("current = %q", got)
	}
	vs, err := s.Versions("1234_96xxdata.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("versions = %+v, want 3", vs)
	}
	for n, want := range map[int]string{1: "v4", 2: "v3", 3: "v2"} {
		if got := version(t, s, "1234_96xxdata.txt", n); got != want {
			t.Errorf("version %d = %q, want %q", n, got, want)
		}
	}
	// Lowering the setting drops the surplus at the next upload.
	cfg := s.Config()
	cfg.Versions = 1
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	put(t, s, "1234_96xxdata.txt", "v6")
	if vs, _ := s.Versions("1234_96xxdata.txt"); len(vs) != 1 || version(t, s, "1234_96xxdata.txt", 1) != "v5" {
		t.Fatalf("after lowering to 1: %+v", vs)
	}
}

func TestNoVersionsKept(t *testing.T) {
	s, _ := newTestStore(t, func(c *Config) { c.Versions = 0 })
	put(t, s, "a.txt", "1")
	put(t, s, "a.txt", "2")
	if vs, _ := s.Versions("a.txt"); len(vs) != 0 {
		t.Fatalf("versions = %+v", vs)
	}
	if got := current(t, s, "a.txt"); got != "2" {
		t.Fatalf("current = %q", got)
	}
}

func TestDeleteKeepsVersionAndRevertBringsItBack(t *testing.T) {
	s, _ := newTestStore(t, nil)
	put(t, s, "1234_16xxdata.txt", "old")
	put(t, s, "1234_16xxdata.txt", "good")
	if err := s.Delete(context.Background(), "1234_16xxdata.txt"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open("1234_16xxdata.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after delete: %v", err)
	}
	if err := s.Delete(context.Background(), "1234_16xxdata.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second delete: %v", err)
	}
	if got := version(t, s, "1234_16xxdata.txt", 1); got != "good" {
		t.Fatalf("version 1 after delete = %q", got)
	}
	if files, _ := s.List(); len(files) != 0 {
		t.Fatalf("list after delete: %+v", files)
	}
	if err := s.Revert(context.Background(), "1234_16xxdata.txt", 1); err != nil {
		t.Fatal(err)
	}
	if got := current(t, s, "1234_16xxdata.txt"); got != "good" {
		t.Fatalf("current after revert = %q", got)
	}
	put(t, s, "1234_16xxdata.txt", "broken")
	if err := s.Revert(context.Background(), "1234_16xxdata.txt", 1); err != nil {
		t.Fatal(err)
	}
	if got := current(t, s, "1234_16xxdata.txt"); got != "good" {
		t.Fatalf("revert after broken upload = %q", got)
	}
	if got := version(t, s, "1234_16xxdata.txt", 1); got != "broken" {
		t.Fatalf("the reverted-over version should be kept, got %q", got)
	}
}

func TestBinaryBodiesStoredAsIs(t *testing.T) {
	s, _ := newTestStore(t, nil)
	// A 16xx backup: UTF-16LE with a byte-order mark.
	body := []byte{0xFF, 0xFE, 'A', 0, '=', 0, '1', 0, '\r', 0, '\n', 0, 0, 0xD8}
	if _, err := s.Put(context.Background(), "1234_16xxdata.txt", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if got := current(t, s, "1234_16xxdata.txt"); got != string(body) {
		t.Fatalf("stored % x", got)
	}
}

func TestNamesRefused(t *testing.T) {
	s, dir := newTestStore(t, nil)
	for name, reason := range map[string]string{
		"":                          "empty",
		".hidden":                   "hidden",
		"..":                        "hidden",
		"../escape":                 "hidden",
		"a/../../escape":            "separator",
		"sub/file.txt":              "separator",
		"a\\b":                      "separator",
		"nul\x00.txt":               "separator",
		strings.Repeat("x", 129):    "pattern",
		strings.Repeat("x", 201):    "too_long",
		"space name.txt":            "pattern",
		"-ok-but-then-é-accent.txt": "pattern",
	} {
		_, err := s.Put(context.Background(), name, strings.NewReader("x"))
		var ne *NameError
		if !errors.As(err, &ne) || ne.Reason != reason || !errors.Is(err, ErrBadName) {
			t.Errorf("put %q: %v, want reason %s", name, err, reason)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != versionsDir {
			t.Errorf("refused name left %s behind", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Errorf("a file was written outside the folder")
	}
}

func TestTooLargeChangesNothing(t *testing.T) {
	s, dir := newTestStore(t, func(c *Config) { c.MaxBytes = 10 })
	put(t, s, "a.txt", "0123456789") // exactly the limit is fine
	counting := &countingReader{r: strings.NewReader(strings.Repeat("y", 1000))}
	_, err := s.Put(context.Background(), "a.txt", counting)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("put 1000 bytes: %v", err)
	}
	if counting.n > 11 {
		t.Errorf("read %d bytes of an oversized body, want at most limit+1", counting.n)
	}
	if got := current(t, s, "a.txt"); got != "0123456789" {
		t.Fatalf("current = %q", got)
	}
	assertNoTemp(t, dir)
}

func TestFullStoreRefusesNewNamesOnly(t *testing.T) {
	s, _ := newTestStore(t, func(c *Config) { c.MaxFiles = 2 })
	put(t, s, "a.txt", "a")
	put(t, s, "b.txt", "b")
	if _, err := s.Put(context.Background(), "c.txt", strings.NewReader("c")); !errors.Is(err, ErrFull) {
		t.Fatalf("third name: %v", err)
	}
	put(t, s, "a.txt", "a2") // replacing is fine
	if err := s.Delete(context.Background(), "b.txt"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "c.txt", "c") // room again
}

func TestLeftoversRemovedAtStartAndNeverListed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backup")
	s, err := New(DefaultConfig(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "1234_96xxdata.txt", "good")
	leftover := filepath.Join(dir, durable.TempPrefix+"1234_96xxdata.txt-deadbeef")
	if err := os.WriteFile(leftover, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := s.List()
	if err != nil || len(files) != 1 || files[0].Name != "1234_96xxdata.txt" || files[0].Size != 4 {
		t.Fatalf("list = %+v, %v", files, err)
	}
	if _, _, err := s.Open(filepath.Base(leftover)); !errors.Is(err, ErrBadName) {
		t.Fatalf("a temporary file could be opened: %v", err)
	}
	s.Close()
	s2, err := New(DefaultConfig(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover still there: %v", err)
	}
	if got := current(t, s2, "1234_96xxdata.txt"); got != "good" {
		t.Fatalf("current = %q", got)
	}
}

func TestReloadKeepsPath(t *testing.T) {
	s, _ := newTestStore(t, nil)
	cfg := s.Config()
	cfg.Path = "/other/"
	if err := s.Reload(cfg); err == nil {
		t.Fatal("path change accepted")
	}
	cfg = s.Config()
	cfg.NamePattern = "("
	if err := s.Reload(cfg); err == nil {
		t.Fatal("bad pattern accepted")
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{".", versionsDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if durable.IsTemp(e.Name()) {
				t.Errorf("temporary file left: %s", filepath.Join(sub, e.Name()))
			}
		}
	}
}

// TestFileCapScalesWithTheFleet: by default the cap follows the fleet the
// DHCP pools can serve, so a 6,000-phone site's backups fit where a fixed
// 5000 refused the 5,001st; a cap set in the configuration stays as set.
func TestFileCapScalesWithTheFleet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backup")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for i := range MinFiles {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d_96xxdata.txt", i)), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(DefaultConfig(), Options{Dir: dir, Registry: prometheus.NewRegistry(), Fleet: 6000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.MaxFiles(); got != 12000 {
		t.Errorf("cap %d for a fleet of 6000, want 12000", got)
	}
	put(t, s, "5001_96xxdata.txt", "the 5,001st phone")
	for _, c := range []struct{ maxFiles, fleet, want int }{{0, 0, MinFiles}, {0, 100, MinFiles}, {0, 30000, 60000}, {7, 30000, 7}} {
		if got := (Config{MaxFiles: c.maxFiles}).FilesFor(c.fleet); got != c.want {
			t.Errorf("max_files %d, fleet %d: cap %d, want %d", c.maxFiles, c.fleet, got, c.want)
		}
	}
}
