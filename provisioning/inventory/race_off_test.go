//go:build !race

package inventory

// raceDetector: the race detector is off (see race_on_test.go).
const raceDetector = false
