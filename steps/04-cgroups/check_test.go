package cgroups

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
)

// Check refuses, with 125, limits the container's init cannot start
// under, and takes the floors themselves: --pids 10 (MinPids) and
// --memory 6M (MinMemory). A number alone under a KiB is bytes, and the
// refusal suggests the size that was likely meant once that size is at
// least the floor: "--memory 6" is 6M. Without this test a floor moved by
// one would refuse the very values the refusal tells the student to give,
// or drop the suggestion for the smallest size that would do.
func TestLimitsCheck(t *testing.T) {
	for _, tc := range []struct {
		l    Limits
		want string // "" for no refusal
		not  string // what the refusal must not say
	}{
		{l: Limits{Pids: MinPids}},
		{l: Limits{Pids: 64}},
		{l: Limits{Pids: MinPids - 1}, want: "--pids 9 is too few"},
		{l: Limits{Pids: 1}, want: "give at least 10"},
		{l: Limits{Memory: MinMemory}},
		{l: Limits{Memory: MinMemory - 1}, want: "--memory 6291455 bytes is too little"},
		{l: Limits{Memory: 6}, want: "--memory 6 bytes (a number alone, or with B, is bytes) is too little: until it runs your command, the container's first process is workshop's init, " +
			"a Go program whose memory counts against the limit; give at least 6M (docker's floor too): did you mean 6M?"},
		{l: Limits{Memory: 80}, want: "did you mean 80M?"},
		{l: Limits{Memory: 5}, want: "give at least 6M (docker's floor too)", not: "did you mean"},
		{l: Limits{}},
	} {
		err := tc.l.Check()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v.Check() = %v; want nil", tc.l, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || exit.Status(err) != exit.ToolFailed {
			t.Errorf("%+v.Check() = %v (status %d); want 125 and %q", tc.l, err, exit.Status(err), tc.want)
			continue
		}
		if tc.not != "" && strings.Contains(err.Error(), tc.not) {
			t.Errorf("%+v.Check() = %v; want nothing saying %q", tc.l, err, tc.not)
		}
	}
}
