package script

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLineKinds(t *testing.T) {
	tests := []struct {
		in     string
		want   Line
		errHas string
	}{
		{in: "", want: Line{Kind: Blank}},
		{in: "   \t", want: Line{Kind: Blank}},
		{in: "## a comment", want: Line{Kind: Comment}},
		{in: "#", want: Line{Kind: Comment}},
		{in: "# END", want: Line{Kind: Label, Name: "END"}},
		{in: "  # GETSET  ", want: Line{Kind: Label, Name: "GETSET"}},
		{in: "#END", want: Line{Kind: Comment}},        // no space: not a label
		{in: "#  END", want: Line{Kind: Comment}},      // two spaces: not a label
		{in: "# two words", want: Line{Kind: Comment}}, // labels have no spaces
		{in: "SET SIG 2", want: Line{Kind: Set, Name: "SIG", Value: "2"}},
		{in: "set sig 2", want: Line{Kind: Set, Name: "sig", Value: "2"}},
		{in: `SET SCREENSAVERON "240"`, want: Line{Kind: Set, Name: "SCREENSAVERON", Value: "240", Quoted: true}},
		{in: `SET GMTOFFSET "-5:00"`, want: Line{Kind: Set, Name: "GMTOFFSET", Value: "-5:00", Quoted: true}},
		{in: `SET OVERRIDE_USER_SELECTION ""`, want: Line{Kind: Set, Name: "OVERRIDE_USER_SELECTION", Quoted: true}},
		{in: `SET EMPTY`, want: Line{Kind: Set, Name: "EMPTY"}},
		{in: "SET LIST English=res://a.xml,Canadian French=lang/b.xml", want: Line{Kind: Set, Name: "LIST", Value: "English=res://a.xml,Canadian French=lang/b.xml"}},
		{in: "SET 3PCC_SERVER_MODE 0", want: Line{Kind: Set, Name: "3PCC_SERVER_MODE", Value: "0"}},
		{in: "SET\tSIG\t2\r", want: Line{Kind: Set, Name: "SIG", Value: "2"}},
		{in: "GET 46xxsettings.txt", want: Line{Kind: Get, Value: "46xxsettings.txt"}},
		{in: "GET $MACADDR.txt", want: Line{Kind: Get, Value: "$MACADDR.txt"}},
		{in: "GOTO END", want: Line{Kind: Goto, Target: "END"}},
		{in: "IF $MODEL4 SEQ 9608 GOTO SIP9608", want: Line{Kind: If, Name: "MODEL4", Value: "9608", Target: "SIP9608"}},
		{in: `if $GROUP seq "12" goto G12`, want: Line{Kind: If, Name: "GROUP", Value: "12", Quoted: true, Target: "G12"}},
		{in: `IF $BOOTNAME SEQ 46XXCOMMON.V03 GOTO GETAPP`, want: Line{Kind: If, Name: "BOOTNAME", Value: "46XXCOMMON.V03", Target: "GETAPP"}},
		{in: "SET", errHas: "needs a parameter name"},
		{in: "SET BAD-NAME 1", errHas: "letters, digits and _"},
		{in: `SET X "unterminated`, errHas: "missing closing"},
		{in: `SET X "a" b`, errHas: "after the closing"},
		{in: "GET", errHas: "needs a file name"},
		{in: "GOTO", errHas: "needs a label"},
		{in: "GOTO A B", errHas: "one label"},
		{in: "IF MODEL4 SEQ 9608 GOTO X", errHas: "not a $VARIABLE"},
		{in: "IF $MODEL4 EQ 9608 GOTO X", errHas: "only know SEQ"},
		{in: "IF $MODEL4 SEQ 9608 X", errHas: "expected IF"},
		{in: "IF $MODEL4 SEQ 9608 GOTO", errHas: "expected IF"},
		{in: "IF $MODEL4 SEQ 9608 GOTO X Y", errHas: "expected IF"},
		{in: `IF $MODEL4 SEQ "96 08"x GOTO X`, errHas: "after a closing"},
		{in: "ECHO hello", errHas: "unknown command"},
		{in: "ADD TRUSTCERTS extra.pem", want: Line{Kind: Add, Name: "TRUSTCERTS", Value: "extra.pem"}},
		{in: "add LANGUAGES \"a b.xml\"", want: Line{Kind: Add, Name: "LANGUAGES", Value: "a b.xml", Quoted: true}},
		{in: "ADD", errHas: "ADD needs a parameter name"},
		{in: "SET X a\x00b", errHas: "NUL"},
	}
	for _, tt := range tests {
		got := ParseLine(tt.in)
		if tt.errHas != "" {
			if got.Kind != Invalid || !strings.Contains(got.Err, tt.errHas) {
				t.Errorf("ParseLine(%q) = %v %q, want invalid containing %q", tt.in, got.Kind, got.Err, tt.errHas)
			}
			continue
		}
		tt.want.Text = tt.in
		if got != tt.want {
			t.Errorf("ParseLine(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseKeepsEveryByte(t *testing.T) {
	inputs := []string{
		"",
		"SET A 1",
		"SET A 1\n",
		"SET A 1\r\nGET b.txt\r\n",
		"\xEF\xBB\xBFSET A 1\n\n\n# END\n",
		"mixed\r\nends\nand a lone\rcarriage return\n",
		"  set   x   \"y z\"  \n##  comment  \nBROKEN LINE\n",
	}
	for _, in := range inputs {
		s := Parse([]byte(in))
		if got := string(s.Bytes()); got != in {
			t.Errorf("Bytes(Parse(%q)) = %q", in, got)
		}
	}
}

func TestParseLineNumbersAndEnds(t *testing.T) {
	s := Parse([]byte("SET A 1\r\n\nGET x"))
	if len(s.Lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(s.Lines))
	}
	for i, want := range []struct {
		num int
		end string
	}{{1, "\r\n"}, {2, "\n"}, {3, ""}} {
		if s.Lines[i].Num != want.num || s.Lines[i].End != want.end {
			t.Errorf("line %d: num %d end %q, want %d %q", i, s.Lines[i].Num, s.Lines[i].End, want.num, want.end)
		}
	}
}

func TestErrListsEverySyntaxError(t *testing.T) {
	s := Parse([]byte("SET A 1\nFOO\nGOTO\n"))
	err := s.Err()
	if err == nil {
		t.Fatal("no error for two bad lines")
	}
	for _, want := range []string{"line 2:", "line 3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if Parse([]byte("SET A 1\n# END\n")).Err() != nil {
		t.Error("error for a valid script")
	}
}

func TestFormatNormalises(t *testing.T) {
	in := "\xEF\xBB\xBF  set   SIG   2  \r\n" +
		"get   46xxsettings.txt\r\n" +
		"if $model4 seq 9608 goto X  \r\n" +
		"  ##  a comment  \r\n" +
		"SET NAME \"a b\"\r\n" +
		"SET LIST a b\r\n" +
		"SET QUOTED \"240\"\r\n" +
		"#   END\r\n" +
		"# X\r\n" +
		"BOGUS stuff\r\n"
	want := "SET SIG 2\n" +
		"GET 46xxsettings.txt\n" +
		"IF $model4 SEQ 9608 GOTO X\n" +
		"##  a comment\n" +
		"SET NAME \"a b\"\n" +
		"SET LIST \"a b\"\n" +
		"SET QUOTED \"240\"\n" +
		"#   END\n" +
		"# X\n" +
		"BOGUS stuff\n"
	got := string(Parse([]byte(in)).Format())
	if got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	// A formatted script is a fixed point.
	if again := string(Parse([]byte(got)).Format()); again != got {
		t.Errorf("Format is not idempotent:\n%s", again)
	}
}

func TestBuiltLinesFormatAndParseBack(t *testing.T) {
	s := &Script{Lines: []Line{
		CommentLine("made in code"),
		CommentLine(""),
		SetLine("SIG", "2"),
		SetLine("EMPTY", ""),
		SetLine("SPACES", "a b"),
		IfLine("MODEL4", "J179", "J179"),
		GotoLine("END"),
		LabelLine("J179"),
		{Kind: Blank},
		LabelLine("END"),
		GetLine("46xxsettings.txt"),
	}}
	want := "## made in code\n##\nSET SIG 2\nSET EMPTY \"\"\nSET SPACES \"a b\"\nIF $MODEL4 SEQ J179 GOTO J179\nGOTO END\n# J179\n\n# END\nGET 46xxsettings.txt\n"
	if got := string(s.Format()); got != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", got, want)
	}
	if got := string(s.Bytes()); got != want {
		t.Fatalf("Bytes of built lines:\n%s\nwant:\n%s", got, want)
	}
	back := Parse([]byte(want))
	if err := back.Err(); err != nil {
		t.Fatal(err)
	}
	for i, l := range back.Lines {
		b := s.Lines[i]
		if l.Kind != b.Kind || l.Name != b.Name || l.Value != b.Value || l.Target != b.Target {
			t.Errorf("line %d parsed back as %+v, built as %+v", i+1, l, b)
		}
	}
}

func TestCheckValue(t *testing.T) {
	for _, ok := range []string{"", "240", "a b", "English=res://x.xml", "0:00"} {
		if err := CheckValue(ok); err != nil {
			t.Errorf("CheckValue(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", `say "hi"`} {
		if CheckValue(bad) == nil {
			t.Errorf("CheckValue(%q) accepted it", bad)
		}
	}
}

// update is accepted so that `go test ./provisioning/... -update` runs; the
// golden files are written by the provisioning package's tests, which this
// package only reads.
var _ = flag.Bool("update", false, "accepted for go test ./provisioning/... -update; golden files are written by package provisioning")

// The golden files the provisioning package writes are in normal form: they
// must parse without errors and format back to themselves byte for byte.
func TestGoldenFilesRoundTrip(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "..", "testdata", "golden"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".txt") || strings.HasSuffix(p, ".scr")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden scripts found")
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := Parse(data)
		if err := s.Err(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if got := s.Format(); !bytes.Equal(got, data) {
			t.Errorf("%s does not format back to itself:\n%s", p, got)
		}
		if got := s.Bytes(); !bytes.Equal(got, data) {
			t.Errorf("%s: Bytes differs from the source", p)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"SET A 1\n", "IF $MODEL4 SEQ \"a b\" GOTO X\r\n# X\n", "\xEF\xBB\xBF##\n", "GET \"x y\"", "SET X \"\"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Parse(data)
		if !bytes.Equal(s.Bytes(), data) {
			t.Fatalf("Bytes(Parse(%q)) = %q", data, s.Bytes())
		}
		once := s.Format()
		twice := Parse(once).Format()
		if !bytes.Equal(once, twice) {
			t.Fatalf("Format not idempotent for %q:\n%q\n%q", data, once, twice)
		}
	})
}
