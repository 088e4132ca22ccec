package firmware

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type zipFile struct {
	name string
	body string
	mode os.FileMode // 0: regular 0644
}

// makeZip writes a zip archive of files (stored, not deflated, so that tests
// can find and damage the bytes).
func makeZip(t *testing.T, files []zipFile) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Store}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// visible lists the files a phone could be served: everything in the tree
// except hidden names.
func visible(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// leftovers lists hidden staging folders in the tree.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), stagePrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

const vendorJ100Script = `IF $MODEL4 SEQ J179 GOTO J179
IF $MODEL4 SEQ J139 GOTO J139
GOTO GETSET
# J179
SET APPNAME FW_S_J179_R4_1_4_0_5.bin
GOTO GETSET
# J139
SET APPNAME FW_S_J139_R4_1_4_0_5.bin
# GETSET
GET 46xxsettings.txt
`

func TestImportZipBundle(t *testing.T) {
	files := t.TempDir()
	touch(t, files, "FW_S_J139_R4_1_4_0_5.bin") // same name, different bytes: replaced
	if err := os.WriteFile(filepath.Join(files, "46xxsettings.txt"), []byte("SET MINE 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := makeZip(t, []zipFile{
		{name: "J100_SIP_4.1.4/FW_S_J179_R4_1_4_0_5.bin", body: "j179 firmware"},
		{name: "J100_SIP_4.1.4/FW_S_J139_R4_1_4_0_5.bin", body: "j139 firmware"},
		{name: "J100_SIP_4.1.4/FW_JEM24_R1_0_1_0_26.bin", body: "jem"},
		{name: "J100_SIP_4.1.4/J100Supgrade.txt", body: vendorJ100Script},
		{name: "J100_SIP_4.1.4/46xxsettings.txt", body: "## vendor template\n"},
		{name: "J100_SIP_4.1.4/lang/Mlf_J179_German.xml", body: "<xml/>"},
		{name: "J100_SIP_4.1.4/odd.bin", body: "?"},
		{name: "__MACOSX/J100_SIP_4.1.4/._FW_S_J179_R4_1_4_0_5.bin", body: "resource fork"},
		{name: "J100_SIP_4.1.4/.DS_Store", body: "junk"},
	})
	rep, err := ImportWith(context.Background(), src, files, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"46xxsettings.txt", "FW_JEM24_R1_0_1_0_26.bin", "FW_S_J139_R4_1_4_0_5.bin", "FW_S_J179_R4_1_4_0_5.bin", "lang/Mlf_J179_German.xml", "odd.bin"}
	if got := visible(t, files); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tree after import: %v\nwant %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "46xxsettings.txt")); string(b) != "SET MINE 1\n" {
		t.Errorf("the operator's settings were replaced: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "FW_S_J139_R4_1_4_0_5.bin")); string(b) != "j139 firmware" {
		t.Errorf("J139 firmware not replaced: %q", b)
	}
	actions := map[string]Action{}
	for _, f := range rep.Files {
		actions[f.Name] = f.Action
	}
	for name, want := range map[string]Action{
		"FW_S_J179_R4_1_4_0_5.bin": Added,
		"FW_S_J139_R4_1_4_0_5.bin": Replaced,
		"J100Supgrade.txt":         Skipped,
		"46xxsettings.txt":         Skipped,
		"J100_SIP_4.1.4/.DS_Store": Skipped,
	} {
		if actions[name] != want {
			t.Errorf("%s: action %q, want %q", name, actions[name], want)
		}
	}
	if len(leftovers(t, files)) != 0 {
		t.Errorf("staging folder left: %v", leftovers(t, files))
	}
	// Coverage from file names and from the vendor script.
	var fromScript, fromName int
	for _, c := range rep.Coverage {
		switch c.Source {
		case "script J100Supgrade.txt":
			fromScript++
			if c.Model == "J179" && (c.File != "FW_S_J179_R4_1_4_0_5.bin" || c.Version.String() != "4.1.4.0.5") {
				t.Errorf("script coverage %+v", c)
			}
		case "file name":
			fromName++
		}
	}
	if fromScript != 2 || fromName != 2+3 { // J179, J139 apps; JEM24 for J169, J179, J189
		t.Errorf("coverage: %d from script, %d from names: %+v", fromScript, fromName, rep.Coverage)
	}
	if len(rep.Unrecognised) != 1 || rep.Unrecognised[0] != "odd.bin" {
		t.Errorf("unrecognised %v", rep.Unrecognised)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"added     FW_S_J179_R4_1_4_0_5.bin", "replaced  FW_S_J139_R4_1_4_0_5.bin", "J179", "not recognised"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("report text lacks %q:\n%s", w, text.String())
		}
	}

	// The same bundle again changes nothing; with InstallScripts the vendor
	// script goes in, last.
	rep, err = ImportWith(context.Background(), src, files, ImportOptions{InstallScripts: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		switch f.Name {
		case "J100Supgrade.txt":
			if f.Action != Added {
				t.Errorf("script with InstallScripts: %s", f.Action)
			}
		case "FW_S_J179_R4_1_4_0_5.bin", "FW_S_J139_R4_1_4_0_5.bin":
			if f.Action != Unchanged {
				t.Errorf("%s on second import: %s", f.Name, f.Action)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(files, "J100Supgrade.txt")); string(b) != vendorJ100Script {
		t.Error("vendor script not installed")
	}
}

func TestImportRefusesBadBundles(t *testing.T) {
	tests := []struct {
		name  string
		files []zipFile
		want  string
	}{
		{"zip slip", []zipFile{{name: "ok.bin", body: "x"}, {name: "../../etc/evil.bin", body: "x"}}, "outside its folder"},
		{"absolute", []zipFile{{name: "/etc/evil.bin", body: "x"}}, "absolute path"},
		{"drive letter", []zipFile{{name: `C:\evil.bin`, body: "x"}}, "absolute path"},
		{"backslash slip", []zipFile{{name: `a\..\..\evil.bin`, body: "x"}}, "outside its folder"},
		{"symlink", []zipFile{{name: "link.bin", body: "/etc/passwd", mode: os.ModeSymlink | 0o777}}, "symbolic link"},
		{"case clash", []zipFile{{name: "FW.bin", body: "a"}, {name: "fw.BIN", body: "b"}}, "differ only in case"},
		{"file and folder", []zipFile{{name: "lang", body: "a"}, {name: "lang/x.xml", body: "b"}}, "both a file and a folder"},
		{"control character", []zipFile{{name: "a\x01.bin", body: "a"}}, "control character"},
		{"empty", []zipFile{{name: ".DS_Store", body: "junk"}}, "holds no files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := t.TempDir()
			_, err := ImportWith(context.Background(), makeZip(t, tt.files), files, ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if got := visible(t, files); len(got) != 0 {
				t.Errorf("refused import left files: %v", got)
			}
		})
	}
}

func TestImportRefusesAbsurdSizes(t *testing.T) {
	// A header that claims 2 GiB while holding a few bytes.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	body := []byte("tiny")
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "huge.bin", Method: zip.Store, CRC32: crc32.ChecksumIEEE(body),
		CompressedSize64: uint64(len(body)), UncompressedSize64: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	zw.Close()
	src := filepath.Join(t.TempDir(), "huge.zip")
	os.WriteFile(src, buf.Bytes(), 0o644)
	files := t.TempDir()
	if _, err := ImportWith(context.Background(), src, files, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
	// Limits are options.
	small := makeZip(t, []zipFile{{name: "a.bin", body: "12345"}, {name: "b.bin", body: "12345"}})
	for _, opts := range []ImportOptions{{MaxFileSize: 4}, {MaxTotalSize: 9}, {MaxFiles: 1}} {
		if _, err := ImportWith(context.Background(), small, files, opts); err == nil {
			t.Errorf("limits %+v not enforced", opts)
		}
	}
	if got := visible(t, files); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

// A damaged file late in the bundle stops the import after earlier files
// were staged: nothing may become visible, and no staging folder may stay.
func TestImportDamagedFileLeavesNothing(t *testing.T) {
	src := makeZip(t, []zipFile{
		{name: "a-first.bin", body: "first file, fine"},
		{name: "z-damaged.bin", body: "DAMAGE-ME-PLEASE"},
	})
	data, _ := os.ReadFile(src)
	i := bytes.Index(data, []byte("DAMAGE-ME-PLEASE"))
	if i < 0 {
		t.Fatal("marker not found")
	}
	data[i] = 'X' // the stored CRC-32 no longer matches
	os.WriteFile(src, data, 0o644)

	files := t.TempDir()
	_, err := ImportWith(context.Background(), src, files, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "damaged") || !errors.Is(err, zip.ErrChecksum) {
		t.Fatalf("err = %v, want a checksum error", err)
	}
	if got := visible(t, files); len(got) != 0 {
		t.Errorf("files visible after a failed import: %v", got)
	}
	if l := leftovers(t, files); len(l) != 0 {
		t.Errorf("staging left behind: %v", l)
	}
}

func TestImportCancelledLeavesNothing(t *testing.T) {
	src := makeZip(t, []zipFile{{name: "a.bin", body: "a"}})
	files := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ImportWith(ctx, src, files, ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := visible(t, files); len(got) != 0 {
		t.Errorf("files visible: %v", got)
	}
}

func TestImportRemovesStaleStaging(t *testing.T) {
	files := t.TempDir()
	touch(t, files, stagePrefix+"12345/half-copied.bin")
	if _, err := ImportWith(context.Background(), makeZip(t, []zipFile{{name: "a.bin", body: "a"}}), files, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, files); len(l) != 0 {
		t.Errorf("stale staging not removed: %v", l)
	}
}

func TestImportRefusesFolderWhereFileGoes(t *testing.T) {
	files := t.TempDir()
	if err := os.Mkdir(filepath.Join(files, "a.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, files, "lang") // a file where the bundle needs a folder
	_, err := ImportWith(context.Background(), makeZip(t, []zipFile{{name: "a.bin", body: "a"}, {name: "b.bin", body: "b"}}), files, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "folder a.bin") {
		t.Fatalf("err = %v", err)
	}
	_, err = ImportWith(context.Background(), makeZip(t, []zipFile{{name: "lang/x.xml", body: "a"}, {name: "c.bin", body: "c"}}), files, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "needs the folder lang") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(files, "b.bin")); err == nil {
		t.Error("a refused import installed b.bin")
	}
}

func TestImportFromFolder(t *testing.T) {
	src := t.TempDir()
	touch(t, src, "S96x1_SALBR7_1_15_0_4_r.tar", "sub/readme.txt")
	files := t.TempDir()
	rep, err := ImportWith(context.Background(), src, files, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := visible(t, files); strings.Join(got, " ") != "S96x1_SALBR7_1_15_0_4_r.tar sub/readme.txt" {
		t.Errorf("tree: %v", got)
	}
	if len(rep.Images) != 1 || rep.Images[0].Series != Series96x1S {
		t.Errorf("images %+v", rep.Images)
	}
	// A link in the source folder is refused, not followed.
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "passwd.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportWith(context.Background(), src, t.TempDir(), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err = %v", err)
	}
}

func TestImportNotABundle(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("hello"), 0o644)
	if _, err := ImportWith(context.Background(), p, t.TempDir(), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "neither a folder nor a zip") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ImportWith(context.Background(), p, filepath.Join(t.TempDir(), "missing"), ImportOptions{}); err == nil {
		t.Fatal("import into a missing tree succeeded")
	}
}

func TestImportLock(t *testing.T) {
	files := t.TempDir()
	unlock, err := lockImports(files)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ImportWith(context.Background(), makeZip(t, []zipFile{{name: "a.bin", body: "a"}}), files, ImportOptions{})
	unlock()
	if err == nil || !strings.Contains(err.Error(), "another import") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ImportWith(context.Background(), makeZip(t, []zipFile{{name: "a.bin", body: "a"}}), files, ImportOptions{}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
