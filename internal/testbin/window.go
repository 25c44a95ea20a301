package testbin

import (
	"strings"
	"testing"
	"time"
)

// InWindow runs a case that must act while workshop is held in a call
// (Holding), once for each hold in turn. The emulated arm64 VM stalls for
// a second or more now and then, and a hold of two seconds may end before
// the case's own workshop commands have landed in it: a case that finds
// its faults and its window missed (the held call over, or the outcome
// one that only a late act gives) is run again with the next hold: a
// longer one, or the same again where a longer one would change what the
// case tests. Its faults are reported from a window it did not miss, or from
// the last hold: a real fault fails every time.
func InWindow(t testing.TB, holds []time.Duration, run func(hold time.Duration) (faults []string, missed bool)) {
	t.Helper()
	for i, hold := range holds {
		faults, missed := run(hold)
		if len(faults) == 0 {
			return
		}
		if missed && i < len(holds)-1 {
			t.Logf("held %v, the case's acts came after its window (a slow machine?): trying a hold of %v; it said:\n%s", hold, holds[i+1], strings.Join(faults, "\n"))
			continue
		}
		for _, f := range faults {
			t.Error(f)
		}
		return
	}
}
