package provisioning

import (
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// Fact is one thing about the phones that the generated files rely on.
type Fact struct {
	// ID names the fact: "generator/<name>" for the generator's own,
	// "firmware-name/<rule>" for a firmware file-name rule.
	ID string
	// Statement says what is assumed, in one sentence.
	Statement string
	// Source names where it is documented (manual and section, or a
	// public repository and path); empty when nothing confirms it.
	Source string
	// Confirmed is false when no public source has been found.
	Confirmed bool
}

// factID names a fact of the generator's own.
type factID string

// The generator's own facts, beyond the firmware file-name rules.
const (
	factMACADDRInGet factID = "generator/macaddr-in-get"
)

// generatorFacts is the table behind the generator's own facts.
var generatorFacts = []Fact{
	{ID: string(factMACADDRInGet),
		Statement: "phones other than the J100 expand $MACADDR in a GET's file name; if they do not, they ask for a file that is not there and read on",
		Source:    "J100 only: wazo-provd-plugins plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt; fusionpbx resources/templates/provision/avaya/J100Supgrade.txt"},
}

// Facts lists every fact the generator relies on: its own and the
// firmware file-name rules (firmware.Rules), confirmed or not.
func Facts() []Fact {
	out := make([]Fact, 0, len(generatorFacts)+16)
	out = append(out, generatorFacts...)
	for _, r := range firmware.Rules() {
		out = append(out, ruleFact(r))
	}
	return out
}

// UnconfirmedFacts lists the facts the generator relies on that no public
// source confirms, for `phoneprov check`. It is built from the same tables
// the generator reads (its facts and the firmware name rules), so it cannot
// drift from what the generated files say.
func UnconfirmedFacts() []Fact {
	var out []Fact
	for _, f := range Facts() {
		if !f.Confirmed {
			out = append(out, f)
		}
	}
	return out
}

func ruleFact(r firmware.RuleInfo) Fact {
	return Fact{ID: "firmware-name/" + r.ID, Statement: r.Meaning, Source: r.Source, Confirmed: r.Confirmed}
}

// ruleFactByID returns the fact behind a firmware file-name rule.
func ruleFactByID(id string) (Fact, bool) {
	for _, r := range firmware.Rules() {
		if r.ID == id {
			return ruleFact(r), true
		}
	}
	return Fact{}, false
}

// fact returns one of the generator's own facts.
func fact(id factID) Fact {
	for _, f := range generatorFacts {
		if f.ID == string(id) {
			return f
		}
	}
	panic("provisioning: no fact " + string(id)) // a programming error: every factID is in the table
}

// unconfirmedComment is the comment a generated file carries where it
// depends on f, when f is unconfirmed; nothing otherwise.
func unconfirmedComment(f Fact) []script.Line {
	if f.Confirmed {
		return nil
	}
	return []script.Line{script.CommentLine("unconfirmed: " + f.Statement)}
}

// unconfirmedLine is unconfirmedComment for one of the generator's own facts.
func unconfirmedLine(id factID) []script.Line { return unconfirmedComment(fact(id)) }
