package netlabtest

import (
	"flag"
	"strconv"
)

// ParallelLabs lets n of a package's parallel tests run at once, unless
// the command line set -test.parallel itself. It is for packages whose
// tests are labs that mostly wait (for DHCP retries, heartbeats, browsers)
// rather than compute, where the default of one test per core leaves
// the machine idle. Call it from TestMain before m.Run.
func ParallelLabs(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		// The flag exists in every test binary; Set fails only on a
		// value that is not a number, which n is not.
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}
