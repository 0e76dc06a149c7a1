//go:build !race

package coord

// raceEnabled reports that the tests run under the race detector.
const raceEnabled = false
