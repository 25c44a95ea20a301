package cgroups

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/workshop-dev/workshop/internal/units"
)

// Stats is what the group saw. A field is -1 when this kernel does not
// keep that count (a file missing, a controller not mounted).
type Stats struct {
	Mode        Mode
	MemoryPeak  int64         // most memory in use at once, bytes
	MemoryHits  int64         // times usage reached the memory limit
	OOMKills    int64         // processes the OOM killer killed in the group
	PidsRefused int64         // forks refused because of pids.max
	CPUTime     time.Duration // CPU time the group's processes used
	Throttled   int64         // periods in which the CPU quota stopped the group
	// HitsNotCounted is true when the kernel said 0 for MemoryHits though
	// its OOM killer ran in the group, which it does only past the limit.
	HitsNotCounted bool
}

func unknownStats(m Mode) Stats {
	return Stats{Mode: m, MemoryPeak: -1, MemoryHits: -1, OOMKills: -1, PidsRefused: -1, CPUTime: -1, Throttled: -1}
}

// Stats reads the group's counters; read them before Remove.
func (c *Cgroup) Stats() (Stats, error) {
	if c.mode == V2 {
		return c.statsV2(), nil
	}
	return c.statsV1(), nil
}

// OOMKilled says whether the memory limit killed a process: the OOM kill
// count where the kernel keeps one (v2, and v1 since Linux 4.13), else
// whether usage ever reached the limit (v1's memory.failcnt).
func (s Stats) OOMKilled() bool {
	if s.OOMKills >= 0 {
		return s.OOMKills > 0
	}
	return s.MemoryHits > 0
}

// Print writes a table of what the group saw, with the file each number
// comes from in v1 and in v2, side by side.
func (s Stats) Print(w io.Writer) {
	hits := count(s.MemoryHits, "time")
	if s.HitsNotCounted {
		hits = "not counted"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  \tthis run\tcgroup v1 file\tcgroup v2 file\n")
	for _, r := range []struct {
		what, value, v1, v2 string
	}{
		{"peak memory", size(s.MemoryPeak), v1MemoryMaxUsage, v2MemoryPeak},
		{"memory limit reached", hits, v1MemoryFailcnt + " + " + v1MemswFailcnt, v2MemoryEvents + " (max)"},
		{"OOM kills", count(s.OOMKills, "process"), v1MemoryOOMControl + " (oom_kill)", v2MemoryEvents + " (oom_kill)"},
		{"forks refused", count(s.PidsRefused, "fork"), pidsEventsFile + " (max)", "the same"},
		{"CPU time", duration(s.CPUTime), v1CPUAcctUsage + " (ns)", v2CPUStat + " (usage_usec)"},
		{"CPU throttled", count(s.Throttled, "period"), v1CPUStat + " (nr_throttled)", "the same"},
	} {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.what, r.value, r.v1, r.v2)
	}
	tw.Flush()
	if s.HitsNotCounted {
		fmt.Fprintf(w, "  memory limit reached: this kernel left %s and %s at 0, but its OOM killer runs only in a group at its limit\n",
			v1MemoryFailcnt, v1MemswFailcnt)
	}
}

func size(b int64) string { return units.FormatSize(b) }

func count(n int64, unit string) string {
	switch {
	case n < 0:
		return "n/a"
	case n == 1:
		return "1 " + unit
	case strings.HasSuffix(unit, "s"):
		return fmt.Sprintf("%d %ses", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func duration(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return d.Round(time.Millisecond).String()
}

func orUnknown(v int64, err error) int64 {
	if err != nil {
		return -1
	}
	return v
}

func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}
