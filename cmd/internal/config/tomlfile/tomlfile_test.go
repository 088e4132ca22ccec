package tomlfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type pool struct {
	Start string `toml:"start"`
}

type subnet struct {
	CIDR  string `toml:"cidr"`
	Pools []pool `toml:"pool"`
}

type sample struct {
	Name    string        `toml:"name"`
	Timeout time.Duration `toml:"timeout"`
	Server  struct {
		Port  int      `toml:"port"`
		Hosts []string `toml:"hosts"`
	} `toml:"server"`
	Subnets []subnet `toml:"subnet"`
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const doc = `# comment
name = "x"
timeout = "5s"

[server]
port = 80
hosts = [
  "a",   # a comment with ] inside
  "b",
]

[[subnet]]
cidr = "198.18.0.0/24"
[[subnet.pool]]
start = "198.18.0.10"

[[subnet]]
cidr = "198.18.1.0/24"
[[subnet.pool]]
start = "198.18.1.10"
[[subnet.pool]]
start = "198.18.1.99"
`

func TestLinesOfKeys(t *testing.T) {
	var v sample
	d, err := Decode(write(t, doc), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.Timeout != 5*time.Second || len(v.Subnets) != 2 || len(v.Subnets[1].Pools) != 2 {
		t.Fatalf("decoded %+v", v)
	}
	for key, want := range map[string]int{
		"name":                    2,
		"server.port":             6,
		"server.hosts":            7,
		"server.hosts[1]":         7, // nearest written parent
		"subnet[0].cidr":          13,
		"subnet[0].pool[0].start": 15,
		"subnet[1].cidr":          18,
		"subnet[1].pool[1].start": 22,
		"subnet[1].pool[1]":       21,
		"subnet[1].nope":          17,
		"missing":                 0,
	} {
		if got := d.Line(key); got != want {
			t.Errorf("Line(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestUnknownKeyNamesFileLineKey(t *testing.T) {
	p := write(t, doc+"\n[server.tls]\nport = 1\n")
	var v sample
	_, err := Decode(p, &v)
	if err == nil {
		t.Fatal("no error for unknown keys")
	}
	want := fmt.Sprintf("%s:24: server.tls: unknown key", p)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestTypeMismatchNamesLine(t *testing.T) {
	p := write(t, "name = \"x\"\n\n[server]\nport = \"eighty\"\n")
	var v sample
	_, err := Decode(p, &v)
	if err == nil || !strings.HasPrefix(err.Error(), p+":4: ") || !strings.Contains(err.Error(), "server.port") {
		t.Fatalf("got %v", err)
	}
}

func TestBadDurationNamesLine(t *testing.T) {
	p := write(t, "timeout = \"soon\"\n")
	var v sample
	_, err := Decode(p, &v)
	if err == nil || !strings.HasPrefix(err.Error(), p+":1: timeout: ") {
		t.Fatalf("got %v", err)
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	p := write(t, "[server]\nport = 80 80\n")
	var v sample
	_, err := Decode(p, &v)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: ") {
		t.Fatalf("got %v", err)
	}
}

func TestValidatePlacesProblems(t *testing.T) {
	p := write(t, doc)
	var v sample
	d, err := Decode(p, &v)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate("subnet[1]", func(report Reporter) {
		report("pool[1].start", errors.New("outside the subnet"))
		report("cidr", errors.New("overlaps"))
	})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("got %v", err)
	}
	if got, want := ps[0].Error(), p+":18: subnet[1].cidr: overlaps"; got != want {
		t.Errorf("first problem %q, want %q", got, want)
	}
	if got, want := ps[1].Error(), p+":22: subnet[1].pool[1].start: outside the subnet"; got != want {
		t.Errorf("second problem %q, want %q", got, want)
	}
	if err := d.Validate("server", func(Reporter) {}); err != nil {
		t.Errorf("no reports gave %v", err)
	}
}

func TestEmptyPathDecodesNothing(t *testing.T) {
	v := sample{Name: "default"}
	d, err := Decode("", &v)
	if err != nil || v.Name != "default" {
		t.Fatalf("got %v %+v", err, v)
	}
	err = d.Validate("server", func(r Reporter) { r("port", errors.New("bad")) })
	if err == nil || err.Error() != ": server.port: bad" {
		t.Fatalf("got %q", err)
	}
}
