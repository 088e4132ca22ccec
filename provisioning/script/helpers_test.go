package script

import (
	"bytes"
	"errors"
	"fmt"
)

// The tests' views of a Script and a Result; the product has no use for them.

// SyntaxError is one line the language does not allow.
type SyntaxError struct {
	Line int
	Text string
	Msg  string
}

// Error says which line is wrong and why.
func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Err returns the syntax errors of s joined, or nil.
func (s *Script) Err() error {
	var errs []error
	for _, l := range s.Lines {
		if l.Kind == Invalid {
			errs = append(errs, &SyntaxError{Line: l.Num, Text: l.Text, Msg: l.Err})
		}
	}
	return errors.Join(errs...)
}

// Bytes gives back the source exactly as it was parsed (line endings, byte
// order mark, spacing and all). Lines built in code have no source text and
// are printed normalised, each ending in "\n".
func (s *Script) Bytes() []byte {
	var b bytes.Buffer
	if s.BOM {
		b.Write(utf8BOM)
	}
	for _, l := range s.Lines {
		if l.Num == 0 {
			b.WriteString(l.Normalized())
			b.WriteByte('\n')
			continue
		}
		b.WriteString(l.Text)
		b.WriteString(l.End)
	}
	return b.Bytes()
}

// Gets returns the file names of the GETs, in order.
func (r Result) Gets() []string {
	var out []string
	for _, op := range r.Ops {
		if op.Kind == Get {
			out = append(out, op.Value)
		}
	}
	return out
}
