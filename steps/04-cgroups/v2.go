package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/units"
	"golang.org/x/sys/unix"
)

// The cgroup v2 files workshop uses, beside their v1 names in v1.go.
const (
	v2Controllers    = "cgroup.controllers"     // the controllers this group may hand to its children
	v2SubtreeControl = "cgroup.subtree_control" // the controllers its children get: "+memory +pids +cpu"
	v2MemoryMax      = "memory.max"             // v1: memory.limit_in_bytes
	v2MemorySwapMax  = "memory.swap.max"        // v1: memory.memsw.limit_in_bytes (memory+swap)
	v2MemoryCurrent  = "memory.current"         // v1: memory.usage_in_bytes
	v2MemoryPeak     = "memory.peak"            // v1: memory.max_usage_in_bytes
	v2MemoryEvents   = "memory.events"          // "max N", "oom_kill N"; v1: failcnt, oom_control
	v2CPUMax         = "cpu.max"                // "quota period"; v1: cfs_quota_us, cfs_period_us
	v2CPUStat        = "cpu.stat"               // usage_usec, nr_throttled
	v2Kill           = "cgroup.kill"            // write 1: SIGKILL to every process (Linux 5.14)
	v2Freeze         = "cgroup.freeze"          // v1: freezer.state
	v2Events         = "cgroup.events"          // "populated 0|1", "frozen 0|1"
)

// v2Wanted are the controllers workshop switches on for its groups, as
// cgroup.subtree_control spells them.
var v2Wanted = []string{"memory", "pids", "cpu"}

// createV2 switches the controllers on down the tree, makes the group,
// and writes the limits.
//
// v2's "no internal processes" rule: a group that hands controllers to its
// children (a non-empty cgroup.subtree_control) may hold no process itself,
// the root excepted. So the workshop parent only ever holds groups, and a
// container's processes go in its own leaf group.
func (c *Cgroup) createV2(l Limits) error {
	rootControllers := filepath.Join(c.h.root, v2Controllers)
	avail := fieldSet(readString(rootControllers))
	for _, need := range l.needs() {
		if !avail[need.ctrl] {
			return missing(need.what, need.ctrl, "it is not listed in "+rootControllers)
		}
	}
	var enable []string
	for _, ctrl := range v2Wanted {
		if avail[ctrl] {
			enable = append(enable, ctrl)
		}
	}

	c.dirs = map[string]string{}
	parent := filepath.Join(c.h.root, Parent)
	dir, err := c.mkdirGroup(parent, func(parent string) error {
		// Up the tree: the root hands the controllers to workshop, and
		// workshop hands them to the container's group.
		if err := c.enable(c.h.root, enable); err != nil {
			return err
		}
		return c.enable(parent, enable)
	})
	if err != nil {
		return err
	}
	c.dirs[v2Key] = dir
	// Between that setup and the mkdir, another container's Remove may have
	// taken the empty parent away and a third made it again, not yet
	// handing anything down: the group then lacks the controllers' files.
	// With the group in it the parent can no longer go, and v2 lets a
	// parent with groups but no processes switch controllers on: again.
	have := fieldSet(readString(filepath.Join(dir, v2Controllers)))
	for _, ctrl := range enable {
		if !have[ctrl] {
			if err := c.enable(parent, enable); err != nil {
				return err
			}
			break
		}
	}

	if l.Memory > 0 {
		if err := c.write(dir, v2MemoryMax, strconv.FormatInt(l.Memory, 10), "the memory limit: above it the kernel reclaims, then the OOM killer kills"); err != nil {
			return err
		}
		// Without it a container over its limit would swap instead of
		// being stopped. The file exists only when the kernel accounts swap.
		if exists(filepath.Join(dir, v2MemorySwapMax)) {
			if err := c.write(dir, v2MemorySwapMax, "0", "no swap for this group"); err != nil {
				return err
			}
		}
	}
	if l.CPUs > 0 {
		v := strconv.FormatInt(l.cpuQuota(), 10) + " " + strconv.Itoa(cpuPeriod)
		if err := c.write(dir, v2CPUMax, v, "CPU time the group may use in each period, both in microseconds"); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := c.write(dir, pidsMaxFile, strconv.FormatInt(l.Pids, 10), "the most tasks (processes and threads) the group may hold: fork, or clone of a thread, fails with EAGAIN past it"); err != nil {
			return err
		}
	}
	return nil
}

// enable writes "+memory +pids +cpu" into dir's cgroup.subtree_control for
// the controllers not switched on there yet.
func (c *Cgroup) enable(dir string, ctrls []string) error {
	on := fieldSet(readString(filepath.Join(dir, v2SubtreeControl)))
	var add []string
	for _, ctrl := range ctrls {
		if !on[ctrl] {
			add = append(add, "+"+ctrl)
		}
	}
	if len(add) == 0 {
		c.n.Note("%s already hands %s to its children", filepath.Join(dir, v2SubtreeControl), strings.Join(ctrls, ", "))
		return nil
	}
	err := c.write(dir, v2SubtreeControl, strings.Join(add, " "), "switch these controllers on for the children of this group")
	if err == nil {
		c.switchedOn = append(c.switchedOn, switched{strings.Join(add, " "), filepath.Join(dir, v2SubtreeControl)})
	}
	if errors.Is(err, unix.EBUSY) && dir != c.h.root {
		// The no-internal-process rule, met: someone put a process in
		// the group itself (echo $$ > …/workshop/cgroup.procs).
		if pids, _ := readPids(filepath.Join(dir, procsFile)); len(pids) > 0 {
			return &InternalProcessesError{Dir: dir, Pids: pids}
		}
	}
	return err
}

// InternalProcessesError is the kernel's EBUSY for controllers switched on
// in a v2 group that holds processes itself: a group that hands
// controllers to its children may hold none (the root excepted).
type InternalProcessesError struct {
	Dir  string
	Pids []int
}

func (e *InternalProcessesError) Error() string {
	some := e.Pids
	if len(some) > 5 {
		some = some[:5]
	}
	var ps []string
	for _, p := range some {
		ps = append(ps, strconv.Itoa(p))
	}
	more := ""
	if len(e.Pids) > len(some) {
		more = fmt.Sprintf(" and %d more", len(e.Pids)-len(some))
	}
	return fmt.Sprintf("cannot switch controllers on for the children of %s: it holds %s itself (%s%s), and on cgroup v2 a group that hands controllers to its children may hold none (the no-internal-process rule); "+
		"move them out, to the root group (echo PID > %s for each), and try again",
		e.Dir, units.Count(len(e.Pids), "process", "processes"), strings.Join(ps, ", "), more, filepath.Join(filepath.Dir(e.Dir), procsFile))
}

// Remedy is what to do about it, for workshop doctor's fix column.
func (e *InternalProcessesError) Remedy() string {
	return fmt.Sprintf("move the processes in %s out, to the root group (for p in $(cat %s); do echo $p > %s; done), then try again",
		e.Dir, filepath.Join(e.Dir, procsFile), filepath.Join(filepath.Dir(e.Dir), procsFile))
}

// killV2 writes 1 into cgroup.kill: the kernel SIGKILLs every process in
// the group, including those forked meanwhile. Kernels before 5.14 lack
// the file: then freeze, kill each, thaw, as v1 does, with cgroup.freeze.
func (c *Cgroup) killV2() error {
	dir := c.dirs[v2Key]
	if exists(filepath.Join(dir, v2Kill)) {
		return c.write(dir, v2Kill, "1", "SIGKILL every process in the group, forks in flight included")
	}
	if !exists(filepath.Join(dir, v2Freeze)) {
		return c.killUntilEmpty()
	}
	return c.freezeKillThaw(dir, v2Freeze, "1", "0", func() bool {
		f, err := ReadKey(filepath.Join(dir, v2Events), "frozen")
		return err != nil || f == 1
	})
}

func (c *Cgroup) statsV2() Stats {
	s := unknownStats(c.mode)
	dir := c.dirs[v2Key]
	s.MemoryPeak = orUnknown(readInt(filepath.Join(dir, v2MemoryPeak)))
	s.MemoryHits = orUnknown(ReadKey(filepath.Join(dir, v2MemoryEvents), "max"))
	s.OOMKills = orUnknown(ReadKey(filepath.Join(dir, v2MemoryEvents), "oom_kill"))
	s.PidsRefused = orUnknown(ReadKey(filepath.Join(dir, pidsEventsFile), "max"))
	if us, err := ReadKey(filepath.Join(dir, v2CPUStat), "usage_usec"); err == nil {
		s.CPUTime = time.Duration(us) * time.Microsecond
	}
	s.Throttled = orUnknown(ReadKey(filepath.Join(dir, v2CPUStat), "nr_throttled"))
	return s
}

// fieldSet turns "memory pids cpu" into a set.
func fieldSet(s string, _ error) map[string]bool {
	set := map[string]bool{}
	for _, f := range strings.Fields(s) {
		set[f] = true
	}
	return set
}
