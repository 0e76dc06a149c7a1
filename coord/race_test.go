//go:build race

package coord

// raceEnabled reports that the tests run under the race detector, which
// slows the coordinator some tenfold: tests that scale with the machine's
// speed size themselves by it.
const raceEnabled = true
