//go:build race

package inventory

// raceDetector: the race detector is on. Its sync.Pool drops pooled
// values at random, so code that pools (regexp) allocates and allocation
// counts are not asserted.
const raceDetector = true
