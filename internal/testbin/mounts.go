package testbin

import (
	"os"
	"strings"
	"testing"
)

// MountinfoUnder returns the lines of /proc/self/mountinfo whose mount point
// is dir or below it, read independently of the code under test. Whole
// lines, so that a mount made again at the same place (a new mount id) is
// a change too.
func MountinfoUnder(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			found = append(found, l)
		}
	}
	return found
}

// MountsUnder returns the mount points at or below dir, in mount order.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	var points []string
	for _, l := range MountinfoUnder(t, dir) {
		points = append(points, strings.Fields(l)[4])
	}
	return points
}
