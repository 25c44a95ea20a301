package testbin

import (
	"slices"
	"testing"
)

func TestMountsUnder(t *testing.T) {
	proc := MountsUnder(t, "/proc")
	if len(proc) == 0 || proc[0] != "/proc" {
		t.Errorf("MountsUnder(/proc) = %q, want /proc first", proc)
	}
	if got := MountsUnder(t, "/pro"); slices.Contains(got, "/proc") {
		t.Errorf("MountsUnder(/pro) = %q: /proc is not below /pro", got)
	}
	if lines := MountinfoUnder(t, "/proc"); len(lines) != len(proc) {
		t.Errorf("MountinfoUnder(/proc) has %d lines, MountsUnder %d points", len(lines), len(proc))
	}
}
