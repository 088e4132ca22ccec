// Package configcheck turns the problems a configuration section reports
// through its Validate method into one error.
package configcheck

import (
	"fmt"
	"strings"
)

// Check runs validate (a section's Validate method) and returns nil when it
// reports nothing, or else one error listing every problem:
// "<part>: invalid configuration: <key>: <cause>; <key>: <cause>".
func Check(part string, validate func(report func(key string, err error))) error {
	var problems []string
	validate(func(key string, err error) { problems = append(problems, key+": "+err.Error()) })
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: invalid configuration: %s", part, strings.Join(problems, "; "))
}
