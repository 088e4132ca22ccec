package script

import (
	"errors"
	"reflect"
	"testing"
)

const upgrade96x1 = `## 96x1 SIP upgrade (sample)
IF $MODEL4 SEQ 9608 GOTO SIP9608
IF $MODEL4 SEQ 9641 GOTO SIP9641
GOTO GETSET
# SIP9608
SET APPNAME S96x1_SALBR7_1_15_0_4_r.tar
GOTO GETSET
# SIP9641
SET APPNAME S96x1_SALBR7_1_2_0_14_r.tar
# GETSET
GET 46xxsettings.txt
`

func TestRunFollowsModelBranches(t *testing.T) {
	s := Parse([]byte(upgrade96x1))
	tests := []struct {
		model   string
		appname string
	}{
		{"9608", "S96x1_SALBR7_1_15_0_4_r.tar"},
		{"9641", "S96x1_SALBR7_1_2_0_14_r.tar"},
		{"9611", ""},
	}
	for _, tt := range tests {
		res, err := Run(s, RunOptions{File: "96x1Supgrade.txt", Vars: map[string]string{"MODEL4": tt.model}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Settings()["APPNAME"]; got != tt.appname {
			t.Errorf("%s: APPNAME %q, want %q", tt.model, got, tt.appname)
		}
		if got := res.Gets(); !reflect.DeepEqual(got, []string{"46xxsettings.txt"}) {
			t.Errorf("%s: GETs %v", tt.model, got)
		}
	}
}

func TestRunGetContinuesInFetchedFileAndNeverReturns(t *testing.T) {
	main := Parse([]byte("SET A 1\nGET 46xxsettings.scr\nGET 46xxsettings.txt\nSET NEVER 1\n"))
	settings := Parse([]byte("SET B 2\nIF $GROUP SEQ 5 GOTO G5\nGOTO END\n# G5\nSET C 3\n# END\n"))
	fetch := func(name string) (*Script, bool) {
		if name == "46xxsettings.txt" {
			return settings, true
		}
		return nil, false
	}
	res, err := Run(main, RunOptions{File: "46xxupgrade.scr", Vars: map[string]string{"GROUP": "5"}, Fetch: fetch})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range res.Ops {
		got = append(got, op.Kind.String()+" "+op.Name+op.Value+" @"+op.File)
	}
	want := []string{
		"SET A1 @46xxupgrade.scr",
		"GET 46xxsettings.scr @46xxupgrade.scr",
		"GET 46xxsettings.txt @46xxupgrade.scr",
		"SET B2 @46xxsettings.txt",
		"SET C3 @46xxsettings.txt",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ops:\n%v\nwant\n%v", got, want)
	}
	if res.Ops[1].Fetched || !res.Ops[2].Fetched {
		t.Errorf("Fetched flags wrong: %+v", res.Ops[1:3])
	}
}

// A failed GET never ends a script, on any series: the 4600 LAN admin guide
// says the phone continues with the script, like the others.
func TestRunFailedGetReadsOn(t *testing.T) {
	s := Parse([]byte("GET missing.txt\nSET AFTER 1\nADD LIST a\nADD LIST b\n"))
	res, err := Run(s, RunOptions{File: "46xxupgrade.scr"})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Settings()
	if got["AFTER"] != "1" {
		t.Error("a phone must read on after a failed GET")
	}
	if got["LIST"] != "a,b" || res.Vars["LIST"] != "a,b" {
		t.Errorf("ADD: settings %q, variable %q; want a,b", got["LIST"], res.Vars["LIST"])
	}
}

func TestRunIfSemantics(t *testing.T) {
	s := Parse([]byte("IF $NOSUCH SEQ x GOTO SKIP\nSET REACHED 1\nIF $SIG SEQ 2 GOTO SIP\nSET H323 1\nGOTO END\n# SIP\nSET SIPSET 1\n# END\n"))
	res, err := Run(s, RunOptions{Vars: map[string]string{"$sig": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Settings()
	if got["REACHED"] != "1" || got["SIPSET"] != "1" || got["H323"] != "" {
		t.Errorf("settings %v", got)
	}
	// A SET changes the variable of the same name for later IFs.
	s = Parse([]byte("SET SIG 2\nIF $SIG SEQ 2 GOTO SIP\nSET NOT 1\n# SIP\n"))
	res, _ = Run(s, RunOptions{Vars: map[string]string{"SIG": "1"}})
	if _, ok := res.Settings()["NOT"]; ok {
		t.Error("IF did not see the SET before it")
	}
}

func TestRunFoldCase(t *testing.T) {
	s := Parse([]byte("IF $MODEL4 SEQ j179 GOTO J\nSET MISS 1\nGOTO END\n# J\nSET HIT 1\n# END\n"))
	res, _ := Run(s, RunOptions{Vars: map[string]string{"MODEL4": "J179"}})
	if res.Settings()["MISS"] != "1" {
		t.Error("SEQ must be case-sensitive by default")
	}
	res, _ = Run(s, RunOptions{Vars: map[string]string{"MODEL4": "J179"}, FoldCase: true})
	if res.Settings()["HIT"] != "1" {
		t.Error("FoldCase must ignore case")
	}
}

func TestRunMissingLabelEndsFile(t *testing.T) {
	s := Parse([]byte("SET A 1\nGOTO NOWHERE\nSET B 2\n"))
	res, err := Run(s, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Settings(); got["A"] != "1" || got["B"] != "" {
		t.Errorf("settings %v", got)
	}
}

func TestRunLoopIsBounded(t *testing.T) {
	s := Parse([]byte("# TOP\nSET A 1\nGOTO TOP\n"))
	_, err := Run(s, RunOptions{MaxSteps: 100})
	if !errors.Is(err, ErrLoop) {
		t.Fatalf("err = %v, want ErrLoop", err)
	}
	self := Parse([]byte("GET self.txt\n"))
	_, err = Run(self, RunOptions{Fetch: func(string) (*Script, bool) { return self, true }, MaxFiles: 4})
	if err == nil {
		t.Fatal("a script fetching itself forever ran to completion")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"MACADDR": "c81fea83e85a", "MAC": "wrong", "MODEL4": "J179"}
	tests := map[string]string{
		"$MACADDR.txt":      "c81fea83e85a.txt",
		"cfg/$MODEL4/x.txt": "cfg/J179/x.txt",
		"$UNKNOWN.txt":      "$UNKNOWN.txt",
		"a$":                "a$",
		"plain.txt":         "plain.txt",
	}
	for in, want := range tests {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}
