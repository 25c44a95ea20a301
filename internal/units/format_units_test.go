package units

import "testing"

// Exactly one of each unit is said in it: 1<<30 is "1G", not "1024M".
// A bound taken as "more than" instead of "at least" would print every
// power of two a limit is commonly set to (--memory 1G) in the unit below.
func TestFormatSizeAtEachUnit(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{1 << 30, "1G"},
		{1 << 20, "1M"},
		{1 << 10, "1K"},
		{1<<10 - 1, "1023B"},
	} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
