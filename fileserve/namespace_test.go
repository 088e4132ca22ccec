package fileserve

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeGenerator map[string]string

func (g fakeGenerator) Generate(_ context.Context, name string, _ Client) (*Generated, error) {
	if body, ok := g[name]; ok {
		return NewGenerated(name, []byte(body), time.Unix(1700000000, 0)), nil
	}
	return nil, ErrNotFound
}

// tree makes a file root with a sibling "outside" folder that links try to reach.
func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "files")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "Firmware", "J100"), 0o755))
	must(os.MkdirAll(filepath.Join(base, "outside"), 0o755))
	must(os.WriteFile(filepath.Join(base, "outside", "secret.txt"), []byte("secret"), 0o644))
	must(os.WriteFile(filepath.Join(base, "secret.txt"), []byte("secret"), 0o644))
	must(os.WriteFile(filepath.Join(root, "46xxsettings.txt"), []byte("SET SIG 2\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "Firmware", "J100", "FW_S_J179_R4_1_3.bin"), []byte("firmware"), 0o644))
	must(os.WriteFile(filepath.Join(root, "both.txt"), []byte("exact"), 0o644))
	must(os.WriteFile(filepath.Join(root, "BOTH.TXT"), []byte("upper"), 0o644))
	must(os.WriteFile(filepath.Join(root, ".partial.bin.tmp"), []byte("half"), 0o644))
	must(os.Symlink(filepath.Join(base, "outside", "secret.txt"), filepath.Join(root, "abs-link.txt")))
	must(os.Symlink("../outside", filepath.Join(root, "outdir")))
	must(os.Symlink("46xxsettings.txt", filepath.Join(root, "inside-link.txt")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return root
}

func readEntry(t *testing.T, e *Entry) string {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(e, 0, e.Size))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNamespaceResolution(t *testing.T) {
	ns, err := NewNamespace(tree(t),
		[]*Generated{NewGenerated("phoneprov-ca.pem", []byte("CA"), time.Time{})},
		fakeGenerator{"J100Supgrade.txt": "GET 46xxsettings.txt\n", "46xxsettings.txt": "generated"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	ok := []struct {
		ask, body string
		source    Source
	}{
		{"46xxsettings.txt", "SET SIG 2\n", SourceOperator}, // operator's file wins over the generator
		{"/46xxsettings.txt", "SET SIG 2\n", SourceOperator},
		{"//46xxsettings.txt", "SET SIG 2\n", SourceOperator},
		{"./46xxsettings.txt", "SET SIG 2\n", SourceOperator},
		{"46XXSETTINGS.TXT", "SET SIG 2\n", SourceOperator}, // case-insensitive fallback
		{"firmware/j100/fw_s_j179_r4_1_3.bin", "firmware", SourceOperator},
		{`\Firmware\J100\FW_S_J179_R4_1_3.bin`, "firmware", SourceOperator}, // old TFTP clients
		{"Firmware//J100/./FW_S_J179_R4_1_3.bin", "firmware", SourceOperator},
		{"both.txt", "exact", SourceOperator}, // exact match beats the folded one
		{"BOTH.TXT", "upper", SourceOperator},
		{"Both.Txt", "exact", SourceOperator}, // first folded match in listing order is not guessed: exact names only win
		{"inside-link.txt", "SET SIG 2\n", SourceOperator},
		{"PHONEPROV-CA.PEM", "CA", SourceBuiltin},
		{"J100Supgrade.txt", "GET 46xxsettings.txt\n", SourceGenerated},
	}
	for _, c := range ok {
		e, err := ns.Open(context.Background(), c.ask, Client{})
		if err != nil {
			if c.ask == "Both.Txt" { // either folded match is acceptable
				continue
			}
			t.Errorf("Open(%q): %v", c.ask, err)
			continue
		}
		got := readEntry(t, e)
		if c.ask == "Both.Txt" {
			if got != "exact" && got != "upper" {
				t.Errorf("Open(%q) = %q", c.ask, got)
			}
		} else if got != c.body || e.Source != c.source {
			t.Errorf("Open(%q) = %q from %s, want %q from %s", c.ask, got, e.Source, c.body, c.source)
		}
		if e.ETag == "" || e.ETag[0] != '"' {
			t.Errorf("Open(%q): ETag %q", c.ask, e.ETag)
		}
		e.Close()
	}

	refused := map[string]string{
		"../secret.txt":                               "dotdot",
		"/../secret.txt":                              "dotdot",
		`..\secret.txt`:                               "dotdot",
		"Firmware/../../secret.txt":                   "dotdot",
		"Firmware/J100/../../../x":                    "dotdot",
		"46xxsettings.txt\x00.bin":                    "nul",
		"C:/secret.txt":                               "drive",
		`c:\windows\win.ini`:                          "drive",
		".partial.bin.tmp":                            "hidden",
		"Firmware/.hidden":                            "hidden",
		"abs-link.txt":                                "escape",
		"outdir/secret.txt":                           "escape",
		"fifo":                                        "not_regular",
		string(make([]byte, 2000)) + "":               "too_long",
		strings.Repeat("a", 256):                      "too_long",
		"Firmware/" + strings.Repeat("b", 300) + "/x": "too_long",
		"nodir/" + strings.Repeat("c", 300):           "too_long",
	}
	for ask, reason := range refused {
		e, err := ns.Open(context.Background(), ask, Client{})
		var r *RefusedError
		if !errors.As(err, &r) || r.Reason != reason {
			if e != nil {
				e.Close()
			}
			t.Errorf("Open(%q) = %v, want refused for %s", ask, err, reason)
		}
		// A name no file can have is missing as well; the others are not.
		if errors.Is(err, ErrNotFound) != (reason == "too_long") {
			t.Errorf("Open(%q) = %v: errors.Is(ErrNotFound) = %v", ask, err, errors.Is(err, ErrNotFound))
		}
	}

	// A case-folded path through an escaping link is not served either
	// (the fallback cannot list the folder outside the root).
	if e, err := ns.Open(context.Background(), "OUTDIR/SECRET.TXT", Client{}); err == nil {
		e.Close()
		t.Error("served a file outside the root through a case-folded link")
	}

	for _, ask := range []string{"", "/", "Firmware", "Firmware/", "nope.txt", "Firmware/nope/x.bin", "/etc/passwd"} {
		if _, err := ns.Open(context.Background(), ask, Client{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want not found", ask, err)
		}
	}
}

func TestEntryIsASnapshotAcrossRename(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "fw.bin")
	if err := os.WriteFile(p, []byte("old-version"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, err := NewNamespace(root, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	e, err := ns.Open(context.Background(), "fw.bin", Client{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tmp := filepath.Join(root, ".fw.bin.new")
	if err := os.WriteFile(tmp, []byte("NEW-VERSION-LONGER"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if got := readEntry(t, e); got != "old-version" {
		t.Fatalf("open entry changed under the reader: %q", got)
	}
	e2, err := ns.Open(context.Background(), "fw.bin", Client{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := readEntry(t, e2); got != "NEW-VERSION-LONGER" || e2.ETag == e.ETag {
		t.Fatalf("new open: %q, etags %s %s", got, e.ETag, e2.ETag)
	}
}

func TestCaseFoldSeesNewFiles(t *testing.T) {
	root := t.TempDir()
	ns, err := NewNamespace(root, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if _, err := ns.Open(context.Background(), "NEW.BIN", Client{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	// The cached listing must be dropped when the folder changes.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(root, "new.bin"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := ns.Open(context.Background(), "NEW.BIN", Client{})
	if err != nil {
		t.Fatalf("case-folded lookup after the file appeared: %v", err)
	}
	e.Close()
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", `\a\b`, "a/./b", "C:x", ".x", "a\x00b", "//", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := CleanName(raw)
		if err != nil {
			return
		}
		if name == "" || name[0] == '/' || filepath.IsAbs(name) {
			t.Fatalf("CleanName(%q) = %q", raw, name)
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == ".." {
				t.Fatalf("CleanName(%q) = %q keeps ..", raw, name)
			}
		}
		if filepath.Clean(name) != name && filepath.Clean(name) != filepath.FromSlash(name) {
			t.Fatalf("CleanName(%q) = %q is not clean", raw, name)
		}
	})
}

// Every name of up to six characters from the alphabet that matters.
func TestAlreadyCleanAgreesWithGeneralPath(t *testing.T) {
	const alphabet = "a/.\\:C\x00"
	var walk func(prefix string)
	walk = func(prefix string) {
		if fast, ok := alreadyClean(prefix); ok {
			if general, err := cleanGeneral(prefix); err != nil || general != fast {
				t.Fatalf("%q: shortcut %q, general path %q %v", prefix, fast, general, err)
			}
		}
		if len(prefix) == 6 {
			return
		}
		for i := range len(alphabet) {
			walk(prefix + alphabet[i:i+1])
		}
	}
	walk("")
}

// FuzzAlreadyClean: the shortcut for names that need no cleaning gives
// what the general path gives.
func FuzzAlreadyClean(f *testing.F) {
	for _, s := range []string{"46xxsettings.txt", "/a/b.bin", "//a", "a/", "a//b", "./a", "a/.b", "C:/x", "/C:/x", "a\\b", "a\x00b", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > maxNameLen {
			return
		}
		fast, ok := alreadyClean(raw)
		if !ok {
			return
		}
		general, err := cleanGeneral(raw)
		if err != nil || general != fast {
			t.Fatalf("%q: shortcut %q, general path %q %v", raw, fast, general, err)
		}
	})
}

type fileGenerator struct{ path string }

func (g fileGenerator) Generate(_ context.Context, name string, _ Client) (*Generated, error) {
	if name != "cached.bin" {
		return nil, ErrNotFound
	}
	f, err := os.Open(g.path)
	if err != nil {
		return nil, err
	}
	return &Generated{Name: name, File: f}, nil
}

func TestChainServesGeneratedFiles(t *testing.T) {
	dir := t.TempDir()
	cached := filepath.Join(dir, "cache.bin")
	if err := os.WriteFile(cached, []byte("from the relay cache"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "files")
	os.Mkdir(root, 0o755)
	ns, err := NewNamespace(root, nil, Chain(fakeGenerator{"a.txt": "first"}, fileGenerator{cached}))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for name, want := range map[string]string{"a.txt": "first", "cached.bin": "from the relay cache"} {
		e, err := ns.Open(context.Background(), name, Client{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := readEntry(t, e); got != want || e.Source != SourceGenerated || e.ETag == "" {
			t.Errorf("%s: %q from %s", name, got, e.Source)
		}
		e.Close()
	}
	if _, err := ns.Open(context.Background(), "neither.txt", Client{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("neither: %v", err)
	}
}

// The longest name a file can have is served; one byte more is missing,
// whichever layer finds it too long.
func TestNameLengthLimits(t *testing.T) {
	const nameMax = 255 // Linux's NAME_MAX
	root := t.TempDir()
	longest := strings.Repeat("f", nameMax)
	if err := os.MkdirAll(filepath.Join(root, longest), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, longest, longest), []byte("long"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, err := NewNamespace(root, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	e, err := ns.Open(context.Background(), "/"+longest+"/"+longest, Client{})
	if err != nil {
		t.Fatalf("a %d-byte name: %v", nameMax, err)
	}
	if got := readEntry(t, e); got != "long" {
		t.Errorf("a %d-byte name: %q", nameMax, got)
	}
	e.Close()

	// A file system with a shorter limit than NAME_MAX answers ENAMETOOLONG.
	err = classifyOpenError("x", &fs.PathError{Op: "openat", Path: "x", Err: syscall.ENAMETOOLONG})
	var r *RefusedError
	if !errors.As(err, &r) || r.Reason != "too_long" || !errors.Is(err, ErrNotFound) {
		t.Errorf("ENAMETOOLONG: %v, want refused as too_long and not found", err)
	}
}

// perClient answers each phone for itself.
type perClient map[netip.Addr]*Generated

func (g perClient) Generate(_ context.Context, name string, c Client) (*Generated, error) {
	if out, ok := g[c.Addr]; ok && name == out.Name {
		return out, nil
	}
	return nil, ErrNotFound
}

// Generated content is served with the ETag it was made with, one per
// requester when the generator answers each phone for itself; content a
// generator put together without NewGenerated (which would have to be
// hashed at every request) is refused.
func TestGeneratedContentCarriesItsETag(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
	mod := time.Unix(1700000000, 0)
	gen := perClient{a: NewGenerated("roll.txt", []byte("SET A 1\n"), mod), b: NewGenerated("roll.txt", []byte("SET B 1\n"), mod)}
	ns, err := NewNamespace(t.TempDir(), nil, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for addr, want := range gen {
		e, err := ns.Open(context.Background(), "roll.txt", Client{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		if body := readEntry(t, e); body != string(want.Data) || e.ETag != want.ETag() || e.Source != SourceGenerated {
			t.Errorf("%v: %q %s %s, want %q %s", addr, body, e.ETag, e.Source, want.Data, want.ETag())
		}
	}
	if gen[a].ETag() == gen[b].ETag() || gen[a].ETag() == "" {
		t.Errorf("ETags %q and %q", gen[a].ETag(), gen[b].ETag())
	}

	handMade := perClient{a: {Name: "roll.txt", Data: []byte("SET A 1\n"), ModTime: mod}}
	ns2, err := NewNamespace(t.TempDir(), nil, handMade)
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Close()
	if _, err := ns2.Open(context.Background(), "roll.txt", Client{Addr: a}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("content not made by NewGenerated: err = %v", err)
	}
}
