package script

import (
	"bytes"
	"fmt"
	"strings"
)

// Format prints the script in normal form: keywords in upper case, single
// spaces, values quoted where they need it (or were quoted), comments trimmed,
// "\n" after every line, no byte order mark. Invalid lines are kept as written
// so that nothing is lost. Formatting a formatted script changes nothing.
//
// A first line that itself starts with byte order marks (a file saved
// twice with one) is read without them: Parse would take a leading one
// for the file's mark, so the normal form would change on every run.
func (s *Script) Format() []byte {
	var b bytes.Buffer
	for i, l := range s.Lines {
		if i == 0 && strings.HasPrefix(l.Text, bomRune) {
			l = ParseLine(strings.TrimLeft(l.Text, bomRune))
		}
		b.WriteString(l.Normalized())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// bomRune is the byte order mark as text.
const bomRune = "\ufeff"

// Normalized returns the line in normal form, without a line ending.
func (l Line) Normalized() string {
	switch l.Kind {
	case Blank:
		return ""
	case Comment:
		return strings.Trim(l.Text, " \t\r")
	case Label:
		return "# " + l.Name
	case Set:
		if l.Value == "" && !l.Quoted {
			return "SET " + l.Name
		}
		return "SET " + l.Name + " " + quoteIf(l.Value, l.Quoted)
	case Add:
		if l.Value == "" && !l.Quoted {
			return "ADD " + l.Name
		}
		return "ADD " + l.Name + " " + quoteIf(l.Value, l.Quoted)
	case Get:
		return "GET " + quoteIf(l.Value, l.Quoted)
	case Goto:
		return "GOTO " + l.Target
	case If:
		return "IF $" + l.Name + " SEQ " + quoteIf(l.Value, l.Quoted) + " GOTO " + l.Target
	}
	return strings.TrimRight(l.Text, "\r")
}

// NeedsQuotes reports whether a value must be written in double quotes to be
// read back whole: it is empty, holds white space, or starts with a quote.
func NeedsQuotes(v string) bool {
	return v == "" || strings.ContainsAny(v, " \t") || strings.HasPrefix(v, `"`)
}

func quoteIf(v string, quoted bool) string {
	if !quoted && strings.Contains(v, `"`) {
		// Read as the rest of the line; quoting it would change its meaning.
		return v
	}
	if quoted || NeedsQuotes(v) {
		return `"` + v + `"`
	}
	return v
}

// CheckValue says why v cannot be written as a value in a script line, or
// returns nil. The language has no escapes: a value cannot hold a line break,
// a NUL byte, or a double quote.
func CheckValue(v string) error {
	switch {
	case strings.ContainsAny(v, "\r\n"):
		return fmt.Errorf("holds a line break; a script value is one line")
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("holds a NUL byte")
	case strings.IndexByte(v, '"') >= 0:
		return fmt.Errorf("holds a double quote, which the phones' script language cannot escape")
	}
	return nil
}

// The constructors below build lines for generated scripts. Their arguments
// must be valid (see CheckValue and ValidName); Format prints them.

// SetLine is "SET name value". Empty values are written as "".
func SetLine(name, value string) Line {
	return Line{Kind: Set, Name: name, Value: value, Quoted: value == ""}
}

// GetLine is "GET file".
func GetLine(file string) Line { return Line{Kind: Get, Value: file} }

// GotoLine is "GOTO tag".
func GotoLine(tag string) Line { return Line{Kind: Goto, Target: tag} }

// IfLine is "IF $variable SEQ value GOTO tag".
func IfLine(variable, value, tag string) Line {
	return Line{Kind: If, Name: variable, Value: value, Target: tag}
}

// LabelLine is "# tag".
func LabelLine(tag string) Line { return Line{Kind: Label, Name: tag} }

// CommentLine is "## text" (two '#' so that it can never read as a label).
func CommentLine(text string) Line {
	if text == "" {
		return Line{Kind: Comment, Text: "##"}
	}
	return Line{Kind: Comment, Text: "## " + text}
}
