package units

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"80M", 80 << 20},
		{"80m", 80 << 20},
		{"80MB", 80 << 20},
		{"512K", 512 << 10},
		{"1G", 1 << 30},
		{"1T", 1 << 40},
		{"2tb", 2 << 40},
		{"1048576", 1 << 20},
		{" 80M ", 80 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d, nil", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSizeRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"80Q", `"80Q" is not a size`},
		{"", `"" is not a size`},
		{"M", `"M" is not a size`},
		{"8.5M", `"8.5M" is not a size`},
		{"80BB", `"80BB" is not a size`},
		{"0", "more than 0"},
		{"-5M", "more than 0"},
		{"99999999999G", "too large"},
		{"9999999T", "too large"},
		{"1P", `"1P" is not a size: write a whole number with K, M, G or T after it`},
		{"99999999999999999999", "too large"},
	} {
		_, err := ParseSize(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSize(%q) error = %v, want one saying %q", tc.in, err, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{80 << 20, "80M"},
		{1536 << 10, "1.5M"},
		{2 << 30, "2G"},
		{4096, "4K"},
		{100, "100B"},
		{-1, "n/a"},
	} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"0.5", 0.5}, {"2", 2}, {"0.01", 0.01}, {".5", 0.5}, {" 1.5 ", 1.5}} {
		got, err := parseCPUs(tc.in, 2)
		if err != nil || got != tc.want {
			t.Errorf("parseCPUs(%q, 2) = %v, %v, want %v, nil", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"-1", "at least 0.01"},
		{"0", "at least 0.01"},
		{"3", "only 2 CPU(s)"},
		{"half", "not a number of CPUs"},
		{"NaN", "not a number of CPUs"},
		{"Inf", "not a number of CPUs"},
		{"1_0", "not a number of CPUs"},
		{"0x1p-1", "not a number of CPUs"},
		{"1e0", "not a number of CPUs"},
		{".", "not a number of CPUs"},
		{"-0.5", "at least 0.01"},
	} {
		_, err := parseCPUs(tc.in, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseCPUs(%q, 2) error = %v, want one saying %q", tc.in, err, tc.want)
		}
	}
}

func TestParsePids(t *testing.T) {
	for _, ok := range []struct {
		in   string
		want int64
	}{{"64", 64}, {"4194304", MaxPids}, {" 10 ", 10}} {
		if got, err := ParsePids(ok.in); err != nil || got != ok.want {
			t.Errorf("ParsePids(%q) = %d, %v, want %d, nil", ok.in, got, err, ok.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"0", "1 or more"},
		{"-3", "1 or more"},
		{"many", "not a number of processes"},
		{"6.4", "not a number of processes"},
		{"4194305", "at most 4194304 process ids"},
		{"9223372036854775807", "at most 4194304 process ids"},
		// Whole numbers past int64 are too many, not no number.
		{"9223372036854775808", "at most 4194304 process ids"},
		{"99999999999999999999", "at most 4194304 process ids"},
		{"-99999999999999999999", "1 or more"},
	} {
		_, err := ParsePids(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePids(%q) error = %v, want one saying %q", tc.in, err, tc.want)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for _, in := range []string{"1m30s", " 1m30s "} {
		if d, err := ParseTimeout(in); err != nil || d != 90*time.Second {
			t.Errorf("ParseTimeout(%q) = %v, %v", in, d, err)
		}
	}
	for in, says := range map[string]string{
		"0": "longer than 0", "-1s": "longer than 0", "-10": "longer than 0", "0.0": "longer than 0",
		"10": "as in 10s", "999999999999": "and a shorter time", "999999999h": "too long",
		"1x": "such as 10s", "1.2.3h": "such as 10s", "..h": "such as 10s",
	} {
		if _, err := ParseTimeout(in); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseTimeout(%q) = %v, want it to say %q", in, err, says)
		}
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 calls"}, {1, "1 call"}, {2, "2 calls"}} {
		if got := Count(tc.n, "call", "calls"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// FormatFlag gives the bytes exactly, as a flag ParseSize reads back to them.
func TestFormatFlag(t *testing.T) {
	for b, want := range map[int64]string{
		80 * MiB: "80M", 1536 * KiB: "1536K", 100000000: "100000000", 2 * GiB: "2G",
		3 * TiB: "3T", 1000: "1000", 9223372036854775807: "9223372036854775807",
	} {
		got := FormatFlag(b)
		if got != want {
			t.Errorf("FormatFlag(%d) = %q, want %q", b, got, want)
		}
		if back, err := ParseSize(got); err != nil || back != b {
			t.Errorf("ParseSize(FormatFlag(%d)) = %d, %v", b, back, err)
		}
	}
}

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
