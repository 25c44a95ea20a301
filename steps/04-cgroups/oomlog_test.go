package cgroups

import (
	"testing"
	"time"
)

func TestOOMKillIn(t *testing.T) {
	const rec = "6,92066711,33094583770,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/workshop/0dce9cb94397,task_memcg=/workshop/0dce9cb94397,task=bash,pid=11031,uid=0"
	for _, tc := range []struct {
		record, id string
		pid        int
		at         time.Duration
		ok         bool
	}{
		{rec, "0dce9cb94397", 11031, 33094583770 * time.Microsecond, true},
		// Another container's group, whose id ends the same.
		{rec, "9cb94397", 0, 0, false},
		{rec, "d43f1677ada2", 0, 0, false},
		// The other line of the same kill, and other records.
		{"3,92065744,32557451609,-;Memory cgroup out of memory: Killed process 11031 (bash) total-vm:39500kB", "0dce9cb94397", 0, 0, false},
		{"6,92063275,31301255046,-;[   8304]     0  8304     9875 bash", "0dce9cb94397", 0, 0, false},
		{"not a record", "0dce9cb94397", 0, 0, false},
	} {
		pid, at, ok := oomKillIn([]byte(tc.record), tc.id)
		if pid != tc.pid || at != tc.at || ok != tc.ok {
			t.Errorf("oomKillIn(%.60q…, %s) = %d, %v, %v; want %d, %v, %v", tc.record, tc.id, pid, at, ok, tc.pid, tc.at, tc.ok)
		}
	}
}
