package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// v1's count of charges over the limit is memory.failcnt plus
// memory.memsw.failcnt (memsw, limited to the same number, refuses first);
// 0 beside an OOM kill is a count the kernel did not keep, and the table
// says so instead of "0 times".
func TestStatsV1MemoryHits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		hits     int64
		shown    string
		footnote bool
	}{
		{"memory.failcnt alone", map[string]string{"memory.failcnt": "66", "memory.oom_control": "oom_kill 1"}, 66, "66 times", false},
		{"memsw refused", map[string]string{"memory.failcnt": "0", "memory.memsw.failcnt": "5", "memory.oom_control": "oom_kill 1"}, 5, "5 times", false},
		{"both", map[string]string{"memory.failcnt": "2", "memory.memsw.failcnt": "5", "memory.oom_control": "oom_kill 0"}, 7, "7 times", false},
		{"not counted", map[string]string{"memory.failcnt": "0", "memory.memsw.failcnt": "0", "memory.oom_control": "under_oom 0\noom_kill 1"}, 0, "not counted", true},
		{"never reached", map[string]string{"memory.failcnt": "0", "memory.memsw.failcnt": "0", "memory.oom_control": "oom_kill 0"}, 0, "0 times", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := &Cgroup{mode: V1, dirs: map[string]string{"memory": dir}}
			s := c.statsV1()
			if s.MemoryHits != tc.hits || s.HitsNotCounted != tc.footnote {
				t.Errorf("MemoryHits %d, HitsNotCounted %v; want %d, %v", s.MemoryHits, s.HitsNotCounted, tc.hits, tc.footnote)
			}
			var out strings.Builder
			s.Print(&out)
			row := ""
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "  memory limit reached  ") {
					row = line
				}
			}
			if !strings.Contains(row, " "+tc.shown+" ") {
				t.Errorf("the row is %q; want %q in it\n%s", row, tc.shown, out.String())
			}
			if got := strings.Contains(out.String(), "memory.memsw.failcnt at 0"); got != tc.footnote {
				t.Errorf("the reason for \"not counted\" printed: %v, want %v\n%s", got, tc.footnote, out.String())
			}
		})
	}
}
