package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/deploy"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "phoneprov.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	body := strings.Repeat("# padding\n", 12) + "[fileserve.tftp]\nblksize_max = 70000\n\n[log]\nformat = \"xml\"\n"
	p := writeConfig(t, body)
	_, err := Load(p)
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{
		p + ":14: fileserve.tftp.blksize_max: 70000 is above 65464",
		p + ":17: log.format: \"xml\" is not text or json",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestConfigRefusesUnknownKeysAndWrongTypes(t *testing.T) {
	for body, want := range map[string]string{
		"[fileserve]\ncolour = \"blue\"\n":                                 ":2: fileserve.colour: unknown key",
		"[fileserve.https]\nlisten = \":443\"\n":                           ":2: fileserve.https.listen:",
		"[fileserve]\ndrain_timeout = \"soon\"\n":                          ":2: fileserve.drain_timeout:",
		"[fileserve.http]\nlisten = [\":80\", \":80\"]\n":                  ":2: fileserve.http.listen[1]: \":80\" is listed twice",
		"[fileserve.https]\ncert_file = \"a.pem\"\n":                       ":2: fileserve.https.cert_file: cert_file and key_file go together",
		"[admin]\nlisten = \"0.0.0.0\"\n":                                  ":2: admin.listen:",
		"[fileserve.https]\nmin_version = \"1.4\"\n":                       ":2: fileserve.https.min_version:",
		"[log]\naccess = \"access.log\"\n":                                 ":2: log.access: \"access.log\" is not off, debug, info or an absolute file path",
		"[log]\naccess = \"\"\n":                                           ":2: log.access: \"\" is not off, debug, info or an absolute file path",
		"[provisioning.downloads]\nmax_per_link = -1\n":                    ":2: provisioning.downloads.max_per_link: -1 is negative",
		"[provisioning.downloads]\nmax_concurrent = 5\nmax_per_link = 6\n": ":3: provisioning.downloads.max_per_link: 6 is more than max_concurrent 5",
	} {
		p := writeConfig(t, body)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), p+want) {
			t.Errorf("config %q: error %v, want it to contain %q", body, err, p+want)
		}
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	p := writeConfig(t, "data_dir = \"state\"\n[fileserve]\nroot = \"tree\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if cfg.DataDir != filepath.Join(dir, "state") || cfg.FileServe.Root != filepath.Join(dir, "tree") {
		t.Fatalf("paths not taken from the file's folder: %q %q", cfg.DataDir, cfg.FileServe.Root)
	}
}

// The example in deploy/ shows every key with its default value, so the
// file an operator starts from documents the whole configuration.
func TestExampleConfigShowsEveryDefault(t *testing.T) {
	p := writeConfig(t, string(deploy.ExampleConfig()))
	cfg, err := Load(p)
	if err != nil {
		t.Fatalf("example configuration does not load: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("example values differ from the defaults:\nexample  %+v\ndefaults %+v", cfg, Default())
	}
	var effective bytes.Buffer
	if err := toml.NewEncoder(&effective).Encode(Default()); err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if _, err := toml.Decode(effective.String(), &keys); err != nil {
		t.Fatal(err)
	}
	var exampleKeys map[string]any
	if _, err := toml.Decode(string(deploy.ExampleConfig()), &exampleKeys); err != nil {
		t.Fatal(err)
	}
	for _, k := range flatten("", keys) {
		if !contains(flatten("", exampleKeys), k) {
			t.Errorf("deploy/phoneprov.toml does not show %s", k)
		}
	}
}

func flatten(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(key, sub)...)
		} else {
			out = append(out, key)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
