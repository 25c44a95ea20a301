package main

import (
	"strings"
	"testing"
)

func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "9"}, "there is no step 9"},
		{[]string{"step", "one"}, `"one" is not a step number`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"step"}, "which step?"},
	} {
		r := workshop(t, "", tc.args...)
		if r.code != 125 {
			t.Errorf("workshop %q exit = %d, want 125", tc.args, r.code)
		}
		if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "goroutine ") {
			t.Errorf("workshop %q stderr = %q, want one sentence with %q", tc.args, r.stderr, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	r := workshop(t, "", "--version")
	if r.code != 0 || !strings.Contains(r.stdout, "workshop version") {
		t.Errorf("workshop --version = %d %q", r.code, r.stdout)
	}
}
