package script

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func has(names ...string) func(string) bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// findingsText renders findings one a line, for compact assertions.
func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLint(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		src    string
		exists func(string) bool
		want   []string // substrings, one per expected finding, in order
	}{
		{
			name:   "clean upgrade script",
			file:   "96x1Supgrade.txt",
			src:    upgrade96x1,
			exists: has("S96x1_SALBR7_1_15_0_4_r.tar", "S96x1_SALBR7_1_2_0_14_r.tar", "46xxsettings.txt"),
		},
		{
			name:   "missing firmware is an error, missing GET a warning",
			file:   "96x1Supgrade.txt",
			src:    upgrade96x1,
			exists: has("S96x1_SALBR7_1_15_0_4_r.tar"),
			want: []string{
				":9: error: APPNAME names S96x1_SALBR7_1_2_0_14_r.tar",
				":11: warning: GET 46xxsettings.txt: the server does not have it",
			},
		},
		{
			name: "syntax errors and missing labels",
			file: "J100Supgrade.txt",
			src:  "SET A 1\nBOGUS\nGOTO NOWHERE\n#NOWHERE\nIF $MODEL4 SEQ J179 GOTO end\n# END\n",
			want: []string{
				":2: error: unknown command",
				`:3: error: GOTO to missing label "NOWHERE": a phone ignores the rest of the file (line 4 looks like it`,
				`:5: warning: label "end" only matches "END"`,
			},
		},
		{
			name: "duplicate labels, backward GOTO, unknown variable, lower-case name",
			file: "x.txt",
			src:  "# A\nset sig 2\nIF $COLOUR SEQ red GOTO A\n# A\nGOTO A\n",
			want: []string{
				":2: warning: parameter sig is not in upper case",
				":3: warning: $COLOUR is not a variable",
				`:4: warning: label "A" is also on line 1`,
				":5: warning: GOTO back to line 1",
			},
		},
		{
			// 4600 LAN admin guide: a GET that fails lets the phone go on
			// with the script (the reference's earlier "4600 stops" was wrong).
			name: "GET not last is fine for 4600 phones too",
			file: "46xxupgrade.scr",
			src:  "GET 46xxsettings.txt\n## fine\nSET AFTER 1\nGET other.txt\n# END\nGET last.txt\n",
		},
		{
			name: "GET not last is fine for other phones",
			file: "J100Supgrade.txt",
			src:  "GET 46xxsettings.txt\nSET AFTER 1\n",
		},
		{
			// J100 admin guide R4.1, "Contents of the settings file": "##" is
			// a comment. ADD and $APPNAME_IN_USE / $SIG_IN_USE appear in
			// field scripts (unconfirmed): accepted without a finding.
			name: "field-script forms",
			file: "46xxsettings.txt",
			src: "## comment\n##\nIF $APPNAME_IN_USE SEQ S96x1_SALBR7_1_15_0_4_r.tar GOTO DONE\n" +
				"IF $SIG_IN_USE SEQ 2 GOTO DONE\nIF $HWVERS SEQ 3 GOTO DONE\nADD TRUSTCERTS extra.pem\n# DONE\n",
		},
		{
			// ADMIN_PASSWORD and AADS_URL are known (unconfirmed, issue 11);
			// a near miss of a known name is pointed out.
			name: "known parameter names",
			file: "46xxsettings.txt",
			src:  "SET ADMIN_PASSWORD 27238\nSET AADS_URL https://198.18.0.9:8443/\nSET ADMINPASSWORD 1\nSET TRUST_CERTS a.pem\n",
			want: []string{
				":3: warning: parameter ADMINPASSWORD is not one phones know; did you mean ADMIN_PASSWORD?",
				":4: warning: parameter TRUST_CERTS is not one phones know; did you mean TRUSTCERTS?",
			},
		},
		{
			name:   "file lists, URLs and macros",
			file:   "46xxsettings.txt",
			src:    "SET TRUSTCERTS phoneprov-ca.pem,missing.pem\nSET APPNAME https://198.18.0.1/fw.bin\nGET $MACADDR.txt\nSET LANG1FILE mlf_german.txt\n",
			exists: has("phoneprov-ca.pem"),
			want: []string{
				":1: warning: TRUSTCERTS names missing.pem",
				":4: warning: LANG1FILE names mlf_german.txt",
			},
		},
		{
			name: "GET of itself",
			file: "46xxspecials.txt",
			src:  "GET 46xxspecials.txt\n",
			want: []string{":1: error: GET of the file itself"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lint(Parse([]byte(tt.src)), LintOptions{File: tt.file, Exists: tt.exists})
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tt.want), findingsText(got))
			}
			for i, w := range tt.want {
				if s := got[i].String(); !strings.Contains(s, w) || !strings.HasPrefix(s, tt.file+":") {
					t.Errorf("finding %d = %q, want it to contain %q", i, s, w)
				}
			}
		})
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLintTree(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"96x1supgrade.txt":            upgrade96x1, // any case: the server matches without case
		"S96x1_SALBR7_1_15_0_4_r.tar": "fw",
		"46xxsettings.txt":            "SET SIG 2\nGET site/extra.txt\n",
		"site/extra.txt":              "BROKEN\n",
		"c8-1f-ea-83-e8-5a.txt":       "SET SIPUSERNAME 2001\nGOTO X\n",
		"readme.txt":                  "this is not a script and must not be linted\n",
		"J100Supgrade.txt":            "\xFF\xFES\x00E\x00T\x00",
	})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "46xxspecials.txt")); err != nil {
		t.Fatal(err)
	}
	got, err := LintTree(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := findingsText(got)
	for _, w := range []string{
		"46xxspecials.txt: error: cannot be read",
		"96x1supgrade.txt:9: error: APPNAME names S96x1_SALBR7_1_2_0_14_r.tar",
		"J100Supgrade.txt: error: is UTF-16 encoded",
		"c8-1f-ea-83-e8-5a.txt:2: error: GOTO to missing label",
		"site/extra.txt:1: error: unknown command",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("findings lack %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "readme.txt") {
		t.Errorf("linted a file that is no script:\n%s", text)
	}
	if strings.Contains(text, "46xxsettings.txt") {
		t.Errorf("unexpected finding for a good settings file:\n%s", text)
	}
	// The caller's exists func decides what the server has (generated and
	// built-in names included).
	got, err = LintTree(context.Background(), dir, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(findingsText(got), "APPNAME names") {
		t.Error("exists func was not used")
	}
}

func TestLintTreeMissingDir(t *testing.T) {
	if _, err := LintTree(context.Background(), filepath.Join(t.TempDir(), "nope"), nil); err == nil {
		t.Fatal("no error for a missing folder")
	}
}

func TestIsPhoneFile(t *testing.T) {
	for _, ok := range []string{"c81fea83e85a.txt", "C81FEA83E85A.TXT", "c8:1f:ea:83:e8:5a.txt", "c8-1f-ea-83-e8-5a.txt"} {
		if !IsPhoneFile(ok) {
			t.Errorf("IsPhoneFile(%q) = false", ok)
		}
	}
	for _, no := range []string{"46xxsettings.txt", "c81fea83e85.txt", "c81fea83e85a.cfg", "c81fea83e85aa.txt"} {
		if IsPhoneFile(no) {
			t.Errorf("IsPhoneFile(%q) = true", no)
		}
	}
}

// The sample tree of `make run` must stay clean.
func TestSampleTreeLintsClean(t *testing.T) {
	got, err := LintTree(context.Background(), filepath.Join("..", "..", "testdata", "files"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Errorf("findings in testdata/files:\n%s", findingsText(got))
	}
}
