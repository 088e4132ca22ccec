package script

import (
	"bytes"
	"fmt"
	"strings"
)

// Kind says what a line of a script is.
type Kind uint8

// The kinds of line.
const (
	Blank   Kind = iota // nothing but white space
	Comment             // '#' not followed by exactly " TAG"
	Label               // "# TAG"
	Set                 // SET NAME value
	Get                 // GET file
	Goto                // GOTO TAG
	If                  // IF $VAR SEQ text GOTO TAG
	Invalid             // a line the language does not allow; Line.Err says why
	Add                 // ADD NAME value (field scripts; unconfirmed, see parseSet)
)

var kindNames = [...]string{"blank", "comment", "label", "SET", "GET", "GOTO", "IF", "invalid", "ADD"}

// String names the kind ("SET", "label", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Line is one line of a script. Which fields are used depends on Kind:
//
//	Label    Name = tag
//	Set, Add Name = parameter, Value = value (without quotes)
//	Get      Value = file name
//	Goto     Target = tag
//	If       Name = variable (without '$'), Value = compared text, Target = tag
//	Comment  Text only
//	Invalid  Err = what is wrong
type Line struct {
	Num    int    // 1-based line number in the source; 0 for lines built in code
	Kind   Kind   //
	Text   string // the line as written, without its line ending
	End    string // the line ending as written: "\n", "\r\n" or "" (last line)
	Name   string
	Value  string
	Target string
	Quoted bool   // Value was written in double quotes
	Err    string // for Invalid lines
}

// Script is a parsed file. Lines holds every line of the source, so nothing
// the author wrote is lost.
type Script struct {
	BOM   bool // the source began with a UTF-8 byte order mark
	Lines []Line
}

// utf8BOM starts files saved by some Windows editors.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parse reads a script. It never fails: lines the language does not allow
// become Invalid lines (Line.Err says why), so a caller can report every problem
// at once and still print the file back unchanged.
func Parse(data []byte) *Script {
	s := &Script{}
	if bytes.HasPrefix(data, utf8BOM) {
		s.BOM = true
		data = data[len(utf8BOM):]
	}
	num := 0
	for len(data) > 0 {
		num++
		var raw []byte
		end := ""
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
			end = "\n"
		} else {
			raw, data = data, nil
		}
		if len(raw) > 0 && raw[len(raw)-1] == '\r' && end != "" {
			raw = raw[:len(raw)-1]
			end = "\r\n"
		}
		l := ParseLine(string(raw))
		l.Num, l.End = num, end
		s.Lines = append(s.Lines, l)
	}
	return s
}

// Labels maps each label's tag to the index in Lines of its first occurrence.
func (s *Script) Labels() map[string]int {
	m := map[string]int{}
	for i, l := range s.Lines {
		if l.Kind == Label {
			if _, dup := m[l.Name]; !dup {
				m[l.Name] = i
			}
		}
	}
	return m
}

// ParseLine classifies one line (without its line ending).
func ParseLine(text string) Line {
	l := Line{Text: text}
	if strings.IndexByte(text, 0) >= 0 {
		return invalid(l, "contains a NUL byte (is the file UTF-16? phones read ASCII or UTF-8)")
	}
	t := strings.Trim(text, " \t\r")
	switch {
	case t == "":
		l.Kind = Blank
		return l
	case t[0] == '#':
		// A label is exactly "# TAG". "#TAG" or "#  TAG" are comments to the
		// phone; Lint points them out when a GOTO seems to mean them.
		if tag, ok := strings.CutPrefix(t, "# "); ok && tag != "" && !strings.ContainsAny(tag, " \t#") {
			l.Kind, l.Name = Label, tag
			return l
		}
		l.Kind = Comment
		return l
	}
	keyword, rest := cutField(t)
	// Keywords are upper case in every Avaya sample; lower case is accepted
	// (leniently) and printed back in upper case by Format.
	switch strings.ToUpper(keyword) {
	case "SET":
		return parseSet(l, rest)
	case "ADD":
		// ADD appears in field scripts (project reference, "Corrections and
		// additions": unconfirmed by any Avaya guide). It is read like SET
		// and accepted leniently rather than rejected.
		l = parseSet(l, rest)
		if l.Kind == Set {
			l.Kind = Add
		} else {
			l.Err = strings.Replace(l.Err, "SET", "ADD", 1)
		}
		return l
	case "GET":
		return parseGet(l, rest)
	case "GOTO":
		tag, extra := cutField(rest)
		switch {
		case tag == "":
			return invalid(l, "GOTO needs a label name")
		case extra != "":
			return invalid(l, "GOTO takes one label name; label names have no spaces")
		}
		l.Kind, l.Target = Goto, tag
		return l
	case "IF":
		return parseIf(l, rest)
	}
	return invalid(l, fmt.Sprintf("unknown command %q (expected SET, ADD, GET, GOTO, IF, a \"# LABEL\" or a comment)", keyword))
}

func invalid(l Line, msg string) Line {
	l.Kind, l.Err = Invalid, msg
	return l
}

func parseSet(l Line, rest string) Line {
	name, value := cutField(rest)
	if name == "" {
		return invalid(l, "SET needs a parameter name and a value")
	}
	if !ValidName(name) {
		return invalid(l, fmt.Sprintf("parameter name %q may only hold letters, digits and _", name))
	}
	v, quoted, err := unquote(value)
	if err != "" {
		return invalid(l, err)
	}
	l.Kind, l.Name, l.Value, l.Quoted = Set, name, v, quoted
	return l
}

func parseGet(l Line, rest string) Line {
	v, quoted, err := unquote(rest)
	switch {
	case err != "":
		return invalid(l, err)
	case v == "":
		return invalid(l, "GET needs a file name")
	}
	l.Kind, l.Value, l.Quoted = Get, v, quoted
	return l
}

func parseIf(l Line, rest string) Line {
	const form = "expected IF $VARIABLE SEQ text GOTO LABEL"
	tokens, err := tokenize(rest)
	if err != "" {
		return invalid(l, err)
	}
	if len(tokens) != 5 {
		return invalid(l, form)
	}
	variable, op, value, gotoWord, tag := tokens[0], tokens[1], tokens[2], tokens[3], tokens[4]
	switch {
	case variable.quoted || !strings.HasPrefix(variable.text, "$") || !ValidName(variable.text[1:]):
		return invalid(l, fmt.Sprintf("%q is not a $VARIABLE; %s", variable.text, form))
	case !strings.EqualFold(op.text, "SEQ") || op.quoted:
		return invalid(l, fmt.Sprintf("unknown comparison %q (phones only know SEQ)", op.text))
	case !strings.EqualFold(gotoWord.text, "GOTO") || gotoWord.quoted:
		return invalid(l, form)
	case tag.quoted || tag.text == "":
		return invalid(l, form)
	}
	l.Kind, l.Name, l.Value, l.Quoted, l.Target = If, variable.text[1:], value.text, value.quoted, tag.text
	return l
}

// ValidName reports whether s is a possible parameter, variable or label
// character set: letters, digits and underscore.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// cutField splits off the first space-separated word.
func cutField(s string) (first, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.Trim(s[i:], " \t")
}

// unquote reads a value that is either the rest of the line or one string in
// double quotes. The language has no escapes, so a quoted value cannot
// itself hold a double quote. Unquoted values may hold spaces: phones take
// the rest of the line (public 3PCC templates rely on it), so this accepts
// them too.
func unquote(s string) (value string, quoted bool, errMsg string) {
	s = strings.Trim(s, " \t")
	if !strings.HasPrefix(s, `"`) {
		return s, false, ""
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", false, "missing closing double quote"
	}
	if strings.Trim(s[end+2:], " \t") != "" {
		return "", false, "text after the closing double quote"
	}
	return s[1 : end+1], true, ""
}

type token struct {
	text   string
	quoted bool
}

// tokenize splits on spaces, keeping "quoted strings" whole.
func tokenize(s string) ([]token, string) {
	var out []token
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, ""
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, "missing closing double quote"
			}
			out = append(out, token{text: s[1 : end+1], quoted: true})
			s = s[end+2:]
			if s != "" && s[0] != ' ' && s[0] != '\t' {
				return nil, "text right after a closing double quote"
			}
			continue
		}
		word, rest := cutField(s)
		out = append(out, token{text: word})
		s = rest
	}
}
