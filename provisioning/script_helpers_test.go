package provisioning

import (
	"errors"
	"fmt"

	"github.com/phoneprov/phoneprov/provisioning/script"
)

// syntaxErrors returns the lines of s the script language does not allow,
// joined, or nil.
func syntaxErrors(s *script.Script) error {
	var errs []error
	for _, l := range s.Lines {
		if l.Kind == script.Invalid {
			errs = append(errs, fmt.Errorf("line %d: %s", l.Num, l.Err))
		}
	}
	return errors.Join(errs...)
}

// gets returns the file names of r's GETs, in order.
func gets(r script.Result) []string {
	var out []string
	for _, op := range r.Ops {
		if op.Kind == script.Get {
			out = append(out, op.Value)
		}
	}
	return out
}
