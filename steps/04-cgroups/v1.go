package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"golang.org/x/sys/unix"
)

// The cgroup v1 files workshop uses, beside their v2 names in v2.go.
const (
	v1MemoryLimit      = "memory.limit_in_bytes"       // v2: memory.max
	v1MemswLimit       = "memory.memsw.limit_in_bytes" // memory+swap; v2: memory.swap.max (swap alone)
	v1MemoryUsage      = "memory.usage_in_bytes"       // v2: memory.current
	v1MemoryMaxUsage   = "memory.max_usage_in_bytes"   // v2: memory.peak
	v1MemoryFailcnt    = "memory.failcnt"              // v2: "max" in memory.events
	v1MemswFailcnt     = "memory.memsw.failcnt"        // charges memsw's limit refused
	v1MemoryOOMControl = "memory.oom_control"          // "oom_kill N"; v2: memory.events
	v1CPUPeriod        = "cpu.cfs_period_us"           // v2: the second number of cpu.max
	v1CPUQuota         = "cpu.cfs_quota_us"            // v2: the first number of cpu.max
	v1CPUStat          = "cpu.stat"                    // nr_throttled, as in v2
	v1CPUAcctUsage     = "cpuacct.usage"               // ns; v2: usage_usec in cpu.stat
	v1FreezerState     = "freezer.state"               // v2: cgroup.freeze
)

// v1 freezer states.
const (
	frozen = "FROZEN"
	thawed = "THAWED"
)

// createV1 makes the group in the v1 hierarchy of each of ctrls, as the walkthrough's
// `cgcreate -g cpu,memory,…:/sandbox` does, then writes the limits, as
// `cgset -r memory.limit_in_bytes=80M sandbox` does.
func (c *Cgroup) createV1(l Limits, ctrls []string) error {
	mounts := c.h.v1Mounts()
	for _, need := range l.needs() {
		if mounts[need.ctrl] == "" {
			return missing(need.what, need.ctrl, "no v1 hierarchy is mounted at "+filepath.Join(c.h.root, need.ctrl))
		}
	}

	// One directory per hierarchy; co-mounted controllers share one.
	c.dirs = map[string]string{}
	made := map[string]string{} // mount -> the group's directory in it
	for _, ctrl := range ctrls {
		mnt, ok := mounts[ctrl]
		if !ok {
			continue
		}
		if dir, ok := made[mnt]; ok {
			c.dirs[ctrl] = dir
			continue
		}
		dir, err := c.mkdirGroup(filepath.Join(mnt, Parent), nil)
		if err != nil {
			return err
		}
		made[mnt] = dir
		c.dirs[ctrl] = dir
	}

	if l.Memory > 0 {
		dir := c.dirs["memory"]
		v := strconv.FormatInt(l.Memory, 10)
		if err := c.write(dir, v1MemoryLimit, v, "the memory limit: above it the kernel reclaims, then the OOM killer kills"); err != nil {
			return err
		}
		// Without swap accounting a container over its limit would swap
		// instead of being stopped; memsw counts memory+swap, so the same
		// number means "no swap". Not every kernel has it (swapaccount=1).
		if exists(filepath.Join(dir, v1MemswLimit)) {
			if err := c.write(dir, v1MemswLimit, v, "memory plus swap: the same number, so the container cannot swap"); err != nil {
				return err
			}
		}
	}
	if l.CPUs > 0 {
		dir := c.dirs["cpu"]
		if err := c.write(dir, v1CPUPeriod, strconv.Itoa(cpuPeriod), "the CFS period, in microseconds"); err != nil {
			return err
		}
		if err := c.write(dir, v1CPUQuota, strconv.FormatInt(l.cpuQuota(), 10), "the CPU time the group may use in each period"); err != nil {
			return err
		}
	}
	if l.Pids > 0 {
		if err := c.write(c.dirs["pids"], pidsMaxFile, strconv.FormatInt(l.Pids, 10), "the most tasks (processes and threads) the group may hold: fork, or clone of a thread, fails with EAGAIN past it"); err != nil {
			return err
		}
	}
	return nil
}

// mkdirGroup makes parent if it is missing (then runs setup on it), and the
// container's group inside it. Another container's Remove may take away the
// empty parent at any moment before the group is in it (removeParentIfEmpty):
// then the parent is made again.
func (c *Cgroup) mkdirGroup(parent string, setup func(parent string) error) (string, error) {
	dir := filepath.Join(parent, c.id)
	var err error
	for try := 0; try < 5; try++ {
		if err = c.mkdirIfMissing(parent); err != nil {
			return "", err
		}
		if setup != nil {
			if err = setup(parent); err != nil {
				// The parent was removed under us (ENOENT once it is
				// gone, ENODEV while the kernel is still destroying it),
				// and maybe made again by another container: start again.
				if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || !exists(parent) {
					continue
				}
				return "", err
			}
		}
		err = c.n.Because("make the container's group: the kernel fills the directory with its files").Mkdir(dir, 0o755)
		if !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	var coded *exit.Error
	switch {
	case err == nil:
		return dir, nil
	case errors.Is(err, unix.EEXIST):
		return "", exit.Errorf(exit.ToolFailed, "a cgroup for container %s already exists at %s: another run uses that id ('workshop clean' removes stale ones)", c.id, dir)
	case errors.As(err, &coded):
		return "", err
	}
	return "", exit.Errorf(exit.ToolFailed, "cannot make the cgroup %s: %v; see 'workshop doctor'", dir, errnoOf(err))
}

// killV1 kills every process in the group with the freezer hierarchy's
// freezer.state (FROZEN, then THAWED); without one it kills until the group
// is empty.
func (c *Cgroup) killV1() error {
	dir, ok := c.dirs["freezer"]
	if !ok {
		return c.killUntilEmpty()
	}
	return c.freezeKillThaw(dir, v1FreezerState, frozen, thawed, func() bool {
		// FREEZING turns FROZEN once every task has stopped.
		state, err := readString(filepath.Join(dir, v1FreezerState))
		return err != nil || state == frozen
	})
}

// freezeKillThaw freezes the group by writing freeze into its file, waits
// until isFrozen says every process stopped, SIGKILLs each, and thaws the
// group: a frozen process cannot fork, so a fork bomb cannot outrun the
// kills, and the SIGKILLs take effect on thaw. v1 and v2 differ only in the
// file and the values written (freezer.state, cgroup.freeze).
func (c *Cgroup) freezeKillThaw(dir, file, freeze, thaw string, isFrozen func() bool) error {
	if err := c.write(dir, file, freeze, "stop every process in the group: none can fork while we kill"); err != nil {
		return err
	}
	// Looked at every millisecond: while the group is frozen, a workshop
	// killed with SIGKILL would leave it so (on v1 a frozen process does
	// not die of a SIGKILL, its parent-death one included, until thawed;
	// `workshop clean` kills its processes and thaws it): the window is
	// kept short.
	deadline := time.Now().Add(drainWait)
	for time.Now().Before(deadline) && !isFrozen() {
		time.Sleep(time.Millisecond)
	}
	kerr := c.killEach()
	if err := c.write(dir, file, thaw, "let them run again: the SIGKILLs take effect"); err != nil {
		return errors.Join(kerr, err)
	}
	return kerr
}

// killUntilEmpty kills what is in the group until nothing is left: without
// a freezer, a fork bomb may make new processes while the old are killed.
func (c *Cgroup) killUntilEmpty() error {
	deadline := time.Now().Add(drainWait)
	for time.Now().Before(deadline) {
		pids, err := c.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if err := c.killEach(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("processes are still in %s after killing them for %s", strings.Join(c.Paths(), ", "), drainWait)
}

func (c *Cgroup) statsV1() Stats {
	s := unknownStats(c.mode)
	if dir, ok := c.dirs["memory"]; ok {
		s.MemoryPeak = orUnknown(readInt(filepath.Join(dir, v1MemoryMaxUsage)))
		s.MemoryHits = orUnknown(readInt(filepath.Join(dir, v1MemoryFailcnt)))
		// With memsw's limit set to the same number (no swap), memsw is
		// charged first and refuses first: its own failcnt counts that.
		if memsw, err := readInt(filepath.Join(dir, v1MemswFailcnt)); err == nil && s.MemoryHits >= 0 {
			s.MemoryHits += memsw
		}
		s.OOMKills = orUnknown(ReadKey(filepath.Join(dir, v1MemoryOOMControl), "oom_kill"))
		// The OOM killer runs in a group only after a charge went over its
		// limit; a failcnt of 0 beside it is a count this kernel does not
		// keep (since Linux 6.13 or so, memory.memsw.failcnt stays 0).
		s.HitsNotCounted = s.MemoryHits == 0 && s.OOMKills > 0
	}
	if dir, ok := c.dirs["pids"]; ok {
		s.PidsRefused = orUnknown(ReadKey(filepath.Join(dir, pidsEventsFile), "max"))
	}
	if dir, ok := c.dirs["cpuacct"]; ok {
		if ns, err := readInt(filepath.Join(dir, v1CPUAcctUsage)); err == nil {
			s.CPUTime = time.Duration(ns)
		}
	}
	if dir, ok := c.dirs["cpu"]; ok {
		s.Throttled = orUnknown(ReadKey(filepath.Join(dir, v1CPUStat), "nr_throttled"))
	}
	return s
}
