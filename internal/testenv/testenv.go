// Package testenv holds what tests share about the machine they run on.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// SkipUnlessCI skips t because something it needs is missing (a program,
// a package, a corpus), unless $CI is set: CI installs everything the
// tests need (.ci/run), so there a missing piece fails the test instead
// of hiding it.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this is an error)", why)
	}
	t.Skip("skipping: " + why)
}
