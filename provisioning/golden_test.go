package provisioning

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenDir holds one folder per scenario: config.toml (the [provisioning]
// section), tree.list (files to create in the tree, one a line) as inputs;
// out/ (every file the generator serves for the scenario) and check.list
// (the findings of Check) as outputs.
var goldenDir = filepath.Join("..", "testdata", "golden", "provisioning")

type scenario struct {
	name  string
	local string // the server address the phone talked to
	ca    string // the CA certificate name the file server serves
}

var scenarios = []scenario{
	{name: "defaults", local: "198.18.0.1", ca: fileserve.CAFileName},
	{name: "mixed-fleet", local: "198.18.0.1", ca: fileserve.CAFileName},
	{name: "overrides", local: "::ffff:198.18.0.7", ca: ""}, // a v4-mapped address from a dual-stack socket
	{name: "operator-scr", local: "198.18.0.1", ca: fileserve.CAFileName},
}

// loadConfig decodes a scenario's TOML over the defaults, strictly.
func loadConfig(t *testing.T, path string) Config {
	t.Helper()
	doc := struct {
		Provisioning Config `toml:"provisioning"`
	}{Provisioning: DefaultConfig()}
	md, err := toml.DecodeFile(path, &doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("%s: unknown keys %v", path, u)
	}
	return doc.Provisioning
}

// buildTree creates the files a scenario lists in a fresh tree.
func buildTree(t *testing.T, list string) string {
	t.Helper()
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		body := "placeholder for " + name + "\n"
		if strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".scr") {
			body = "## operator file " + name + "\nSET OPERATOR 1\n"
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGolden(t *testing.T) {
	ctx := context.Background()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, sc.name)
			cfg := loadConfig(t, filepath.Join(dir, "config.toml"))
			files := buildTree(t, filepath.Join(dir, "tree.list"))
			g, err := New(cfg, Options{FilesDir: files, CACertName: sc.ca})
			if err != nil {
				t.Fatal(err)
			}
			client := fileserve.Client{Addr: netip.MustParseAddr("198.18.1.20"), Local: netip.MustParseAddr(sc.local), Protocol: "https"}
			names, err := g.Names(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{}
			for _, n := range names {
				out, err := g.Generate(ctx, n, client)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				got[n] = out.Data
				// Every generated file is valid, normal-form script.
				s := script.Parse(out.Data)
				if err := syntaxErrors(s); err != nil {
					t.Errorf("%s: %v", n, err)
				}
				if !bytes.Equal(s.Format(), out.Data) {
					t.Errorf("%s is not in normal form", n)
				}
			}
			findings, err := g.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var check strings.Builder
			for _, f := range findings {
				check.WriteString(f.String() + "\n")
			}
			compareGolden(t, filepath.Join(dir, "out"), got)
			compareFile(t, filepath.Join(dir, "check.list"), []byte(check.String()))
		})
	}
}

// compareGolden checks (or with -update rewrites) a folder of golden files:
// the same names and the same bytes.
func compareGolden(t *testing.T, dir string, got map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, data := range got {
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test -update to create the golden files)", err)
	}
	var want, have []string
	for _, e := range entries {
		want = append(want, e.Name())
	}
	for n := range got {
		have = append(have, n)
	}
	sort.Strings(want)
	sort.Strings(have)
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Errorf("generated names %v, golden %v", have, want)
	}
	for n, data := range got {
		compareFile(t, filepath.Join(dir, n), data)
	}
}

func compareFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
