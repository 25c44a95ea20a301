package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tasksFile is v1's list of the threads in a group. Writing "0" into it
// moves the writing thread, and that thread alone, into the group.
const tasksFile = "tasks"

// CanBearIn says whether BornIn can put a child in this group at its birth:
// on v1, when the thread that clones can step into every hierarchy of the
// group and back to where it stood. On v2 the child is born in the group by
// clone3's CLONE_INTO_CGROUP instead (namespaces.Config.CgroupDir).
func (c *Cgroup) CanBearIn() bool {
	if c.mode == V2 {
		return false
	}
	_, err := c.homes()
	return err == nil
}

// BornIn runs clone, the call that makes the container's first process, on
// a thread of workshop that stands in the group meanwhile, so that the
// child is born in it, as a shell does with `echo $$ > tasks` before it
// runs the command:
//
//	write("…/memory/workshop/ID/tasks", "0")   this thread steps in
//	clone(…)                                   the child is born in the group
//	write("…/memory/<where it was>/tasks", "0") the thread steps back
//
// Why not write the child's pid into cgroup.procs after the clone, as the
// walkthrough does: moving a whole process takes the kernel's cgroup
// threadgroup lock for writing, which waits for an RCU grace period, 5 to
// 15 ms whenever no other task moved in the last few tens of ms. Moving
// the calling thread alone ("0" in tasks) needs no such lock. The thread
// steps back at once; only the child, and what it forks, stays.
//
// The Go runtime starts new threads from a clean template thread, never
// from a locked one like this, so no other thread of workshop is born in
// the group. If the thread cannot step back, it is let go of (the runtime
// ends a locked thread whose goroutine returns, unless it is the main
// thread, which it parks instead), and BornIn waits until it is gone, or
// fails: the caller then removes the group, which the kernel refuses while
// a thread is in it, and says so.
func (c *Cgroup) BornIn(clone func() error) error {
	type result struct {
		err, back error
		tid       int
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		r := result{tid: unix.Gettid()}
		// Where this very thread stands: it is the one that steps back.
		homes, err := c.homes()
		if err != nil {
			runtime.UnlockOSThread()
			r.err = err
			done <- r
			return
		}
		c.n.Note("cgroup v1 has no CLONE_INTO_CGROUP: a thread of workshop steps into the group (\"0\" in tasks: the writing thread itself), clones the child there, and steps back")
		var in []string // the hierarchies this thread stepped into
		for _, dir := range c.hierarchies() {
			if r.err = c.write(dir, tasksFile, "0", "this thread of workshop steps into the group (0 is the writing thread itself): what it clones is born here"); r.err != nil {
				break
			}
			in = append(in, dir)
		}
		if r.err == nil {
			r.err = clone()
		}
		for _, dir := range in {
			if err := c.write(homes[dir], tasksFile, "0", "and steps back to where it was: only the child stays in the group"); err != nil {
				r.back = errors.Join(r.back, err)
			}
		}
		if r.back == nil {
			runtime.UnlockOSThread()
		}
		// Locked still, after a failed step back: the runtime ends the
		// thread when this goroutine returns.
		done <- r
	}()
	r := <-done
	if r.back != nil {
		c.n.Note("a thread of workshop could not step back out of the container's group (%v): it is ended instead", r.back)
		if !threadGone(r.tid, 2*time.Second) {
			return errors.Join(r.err, fmt.Errorf("thread %d of workshop is still in the container's group", r.tid))
		}
	}
	return r.err
}

// hierarchies are the group's directories, one per v1 hierarchy (co-mounted
// controllers share one), sorted.
func (c *Cgroup) hierarchies() []string {
	seen := map[string]bool{}
	var dirs []string
	for _, dir := range c.dirs {
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// homes maps each of the group's directories to the directory, in the same
// hierarchy, where the calling thread's process stands now (read from
// /proc/thread-self/cgroup: its path is relative to the hierarchy's root).
// It fails when one cannot be found, say where a hierarchy is mounted from
// a subdirectory (inside another container): the thread could step in but
// not out.
func (c *Cgroup) homes() (map[string]string, error) {
	if c.mode == V2 {
		return nil, errors.New("cgroup v2 has no tasks file: the child is born in its group with CLONE_INTO_CGROUP")
	}
	self, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	return homesIn(string(self), c.h.v1Mounts(), c.dirs)
}

// homesIn is homes for a /proc/PID/cgroup text, the v1 mounts by controller
// and the group's directories by controller.
func homesIn(self string, mounts, dirs map[string]string) (map[string]string, error) {
	where := map[string]string{} // controller -> path in its hierarchy
	for _, line := range strings.Split(self, "\n") {
		// "4:cpu,cpuacct:/user.slice": id, controllers, path.
		fields := strings.SplitN(line, ":", 3)
		if len(fields) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(fields[1], ",") {
			where[ctrl] = fields[2]
		}
	}
	homes := map[string]string{}
	for ctrl, dir := range dirs {
		path, ok := where[ctrl]
		if !ok || mounts[ctrl] == "" {
			return nil, fmt.Errorf("/proc/thread-self/cgroup does not say where workshop stands in the %s hierarchy", ctrl)
		}
		home := filepath.Join(mounts[ctrl], path)
		if !exists(filepath.Join(home, tasksFile)) {
			return nil, fmt.Errorf("workshop's %s group %s is not under %s", ctrl, path, mounts[ctrl])
		}
		homes[dir] = home
	}
	return homes, nil
}

// threadGone waits until thread tid of this process has ended.
func threadGone(tid int, wait time.Duration) bool {
	path := fmt.Sprintf("/proc/self/task/%d", tid)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}
