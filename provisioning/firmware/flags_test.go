package firmware

import "flag"

// update is accepted so that `go test ./provisioning/... -update` runs; this
// package has no golden files (its tests build their bundles and trees).
var _ = flag.Bool("update", false, "accepted for go test ./provisioning/... -update; this package has no golden files")
