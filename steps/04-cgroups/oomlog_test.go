package cgroups

import (
	"testing"
	"time"
)

func TestOOMKillOf(t *testing.T) {
	for _, tc := range []struct {
		record string
		pid    int
		want   time.Duration
		ok     bool
	}{
		{"3,92065744,32557451609,-;Memory cgroup out of memory: Killed process 11935 (bash) total-vm:39500kB, UID:0", 11935, 32557451609 * time.Microsecond, true},
		{"3,1,5000000,-;Out of memory: Killed process 42 (sort) total-vm:1kB", 42, 5 * time.Second, true},
		// Another pid, whose digits start the same.
		{"3,92065744,32557451609,-;Memory cgroup out of memory: Killed process 119350 (bash)", 11935, 0, false},
		{"6,92063275,31301255046,-;[   8304]     0  8304     9875 bash", 8304, 0, false},
		{"not a record", 1, 0, false},
	} {
		got, ok := oomKillOf([]byte(tc.record), tc.pid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("oomKillOf(%q, %d) = %v, %v; want %v, %v", tc.record, tc.pid, got, ok, tc.want, tc.ok)
		}
	}
}
