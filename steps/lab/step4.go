package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

func init() { checkers[4] = checkStep4 }

// eightyMiB is what the walkthrough's `cgset -r memory.limit_in_bytes=80M`
// writes: the kernel reads the M as 1024*1024.
const eightyMiB = 80 << 20

// Step 4's exercise: create a `sandbox` cgroup by hand with an 80M memory
// limit, and put your shell in it; with v1 files (cgcreate, cgset,
// cgclassify) or v2 files (mkdir, memory.max, cgroup.procs), whichever the
// host has.
// hybridUnified is where a hybrid host mounts its cgroup v2 hierarchy,
// beside the v1 controllers.
const hybridUnified = "/sys/fs/cgroup/unified"

// v1Top is where a v1 or hybrid host mounts its controllers' trees, on a
// tmpfs of its own.
const v1Top = "/sys/fs/cgroup"

// isPlainDir reports whether p is a directory on no cgroup filesystem.
func isPlainDir(p string) bool {
	var fs unix.Statfs_t
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir() && unix.Statfs(p, &fs) == nil && fs.Type != unix.CGROUP_SUPER_MAGIC && fs.Type != unix.CGROUP2_SUPER_MAGIC
}

func checkStep4(o Options) (*Report, error) {
	name := o.Cgroup
	if name == "" {
		name = "sandbox"
	}
	if o.LocateCgroup == nil {
		return nil, fmt.Errorf("lab 4 needs to know where this host keeps its cgroups")
	}
	dir, v2, err := o.LocateCgroup("memory", name)
	if err != nil {
		return nil, err
	}
	limitFile, procsHint := "memory.limit_in_bytes", "sudo cgclassify -g memory:"+name+" $$ (or echo $$ | sudo tee "+filepath.Join(dir, "cgroup.procs")+")"
	r := &Report{Solution: fmt.Sprintf(`  (cgroup v1 or hybrid, with cgroup-tools)
  sudo cgcreate -g memory:/%[1]s
  sudo cgset -r memory.limit_in_bytes=80M %[1]s
  sudo cgclassify -g memory:%[1]s $$
  (cgroup v2, by hand)
  echo +memory | sudo tee /sys/fs/cgroup/cgroup.subtree_control
  sudo mkdir /sys/fs/cgroup/%[1]s
  echo 80M | sudo tee /sys/fs/cgroup/%[1]s/memory.max
  echo 0 | sudo tee /sys/fs/cgroup/%[1]s/memory.swap.max     # where the machine has swap
  echo $$ | sudo tee /sys/fs/cgroup/%[1]s/cgroup.procs
  (then, in that shell, either way)
  head -c 200M /dev/zero | tail > /dev/null                # Killed: the OOM killer ended tail`, name)}
	if v2 {
		limitFile, procsHint = "memory.max", "echo $$ | sudo tee "+filepath.Join(dir, "cgroup.procs")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		hint := "sudo cgcreate -g memory:/" + name + " makes it (or sudo mkdir " + dir + ")"
		if v2 {
			hint = "sudo mkdir " + dir + ": on cgroup v2 a directory is a cgroup"
		} else if fi, err := os.Stat(filepath.Join(hybridUnified, name)); err == nil && fi.IsDir() {
			// The cgroup v2 recipe, followed on a hybrid host.
			hint = "on this hybrid machine the memory controller is cgroup v1's (" + filepath.Dir(dir) + "); " + filepath.Join(hybridUnified, name) + " is in the cgroup v2 hierarchy, which has no memory controller here (sudo rmdir it): sudo cgcreate -g memory:/" + name
		} else if plain := filepath.Join(v1Top, name); isPlainDir(plain) {
			// The v2 recipe's mkdir /sys/fs/cgroup/NAME on a v1 or hybrid
			// host: /sys/fs/cgroup is a tmpfs there, and that is a plain
			// directory, its memory.max a plain file (where the tmpfs is
			// writable: systemd remounts it read-only).
			hint = "on this machine (cgroup v1 or hybrid) " + v1Top + " is a tmpfs that holds one cgroup tree per controller, and " + plain + " is a plain directory in it, no cgroup (sudo rm -r it): sudo cgcreate -g memory:/" + name
		}
		r.missing(hint, "there is no %s cgroup: %s does not exist", name, dir)
		return r, nil
	}
	r.ok("the %s cgroup exists: %s", name, dir)

	raw, err := os.ReadFile(filepath.Join(dir, limitFile))
	if err != nil {
		hint := "is the memory controller on? sudo cgcreate -g memory:/" + name
		if v2 {
			hint = "the memory controller is not enabled for children of the root: echo +memory | sudo tee /sys/fs/cgroup/cgroup.subtree_control"
		}
		r.missing(hint, "%s has no %s", dir, limitFile)
		return r, nil
	}
	val := strings.TrimSpace(string(raw))
	limit, perr := strconv.ParseInt(val, 10, 64)
	switch {
	case val == "max" || (perr == nil && limit >= 1<<60):
		hint := "sudo cgset -r memory.limit_in_bytes=80M " + name + " (or echo 80M | sudo tee " + filepath.Join(dir, limitFile) + ")"
		if v2 {
			hint = "echo 80M | sudo tee " + filepath.Join(dir, limitFile)
		}
		r.missing(hint, "%s has no memory limit yet (%s is %s)", name, limitFile, val)
		return r, nil
	case perr != nil:
		r.missing("read it yourself: cat "+filepath.Join(dir, limitFile), "%s holds %q, not a number", limitFile, val)
		return r, nil
	case limit != eightyMiB:
		hint := fmt.Sprintf("the kernel reads 80M as 80 × 1024 × 1024 = %d bytes: write 80M", eightyMiB)
		// 80000000, as the kernel keeps it: rounded down to a page.
		if limit > 80_000_000-64<<10 && limit <= 80_000_000 {
			hint = fmt.Sprintf("80000000 is 80 million bytes; the kernel's 80M is 80 × 1024 × 1024 = %d: write 80M", eightyMiB)
		}
		r.missing(hint, "%s is %d bytes, not the walkthrough's 80M", limitFile, limit)
		return r, nil
	}
	r.ok("%s is 80M (%d bytes)", limitFile, limit)

	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	pids := strings.Fields(string(procs))
	if len(pids) == 0 {
		r.missing(procsHint, "no process is in %s yet: put your shell in it", name)
		return r, nil
	}
	comm, _ := os.ReadFile("/proc/" + pids[0] + "/comm")
	r.ok("pid %s (%s) is in it: it and its children now share 80M", pids[0], strings.TrimSpace(string(comm)))

	// The experiment: a 200M tail in that shell, which the group's OOM
	// killer ends. The group counts its kills (since Linux 4.13 on v1).
	counter, swapHint := "memory.oom_control", "sudo cgset -r memory.memsw.limit_in_bytes=80M "+name
	if v2 {
		counter, swapHint = "memory.events", "echo 0 | sudo tee "+filepath.Join(dir, "memory.swap.max")
	}
	kills, err := cgroups.ReadKey(filepath.Join(dir, counter), "oom_kill")
	switch {
	case err != nil:
		// An older kernel's v1 group counts none: nothing to judge by.
	case kills == 0:
		r.missing("in the shell you put in it, take more than 80M: head -c 200M /dev/zero | tail > /dev/null; on a machine with swap, shut swap off for the group first ("+swapHint+"), or tail is pushed to swap and succeeds",
			"the %s group's OOM killer has killed nothing yet (%s says oom_kill 0): the exercise's 200M tail has not run in it", name, counter)
	default:
		r.ok("its OOM killer ended %d process(es) (%s says oom_kill %d): the 200M tail, at the limit", kills, counter, kills)
	}
	return r, nil
}
