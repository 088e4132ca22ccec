// Package configcheck turns the problems a configuration section reports
// through its Validate method into one error, and holds the rule by which
// the caps that need room per phone follow the fleet (FleetCap).
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

// FleetCap is the rule of the caps that must hold something per phone
// (backup files, inventory records): the value set when positive, else two
// per phone of the fleet (the addresses the DHCP pools can lease, 0 when
// unknown) and at least least. A fixed default broke a site larger than it.
func FleetCap(set, least, fleet int) int {
	if set > 0 {
		return set
	}
	return max(least, 2*fleet)
}
