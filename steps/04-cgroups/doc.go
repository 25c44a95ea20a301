// Package cgroups is step 4 of the walkthrough: a control group, made by hand,
// so that one container cannot starve the host.
//
// A cgroup is a directory in a special filesystem. Making the directory makes
// the group; writing a number into one of its files sets a limit; writing a
// pid into cgroup.procs puts a process in it (on v1, "0" into tasks puts the
// writing thread alone in it, which is how workshop's thread stands in the
// group while it clones the container: bornin.go); removing the (empty)
// directory removes the group. Nothing else is needed, and this package does nothing
// else: every write goes through the narrator, so the student sees each one.
//
// There are two versions of the filesystem, and a machine has one of three
// layouts (Detect):
//
//	v1      a tmpfs at /sys/fs/cgroup with one cgroup mount per controller:
//	        /sys/fs/cgroup/memory, /sys/fs/cgroup/cpu, /sys/fs/cgroup/pids…
//	        A container's group is one directory in each of them.
//	v2      one cgroup2 mount at /sys/fs/cgroup: one tree, one directory per
//	        group, and controllers switched on for children through
//	        cgroup.subtree_control.
//	hybrid  v1 controllers as above, plus a cgroup2 mount at
//	        /sys/fs/cgroup/unified that systemd uses to track processes. The
//	        limits live in the v1 hierarchies, so workshop treats it as v1.
//
// The files, v1 against v2 (v1.go and v2.go hold the names):
//
//	limit          v1                                  v2
//	memory         memory.limit_in_bytes               memory.max
//	no swap        memory.memsw.limit_in_bytes         memory.swap.max
//	CPU share      cpu.cfs_period_us, cpu.cfs_quota_us cpu.max ("quota period")
//	processes      pids.max                            pids.max
//	join           cgroup.procs, or tasks for a thread cgroup.procs, or born in it (clone3 CLONE_INTO_CGROUP)
//	kill all       freezer.state FROZEN, kill, THAWED  cgroup.kill
//
// Every container's group sits under a parent named workshop with an
// absolute path (/sys/fs/cgroup/<controller>/workshop/<id> on v1,
// /sys/fs/cgroup/workshop/<id> on v2), never under the caller's own cgroup,
// so `workshop ps` and `workshop clean` find them from any shell.
package cgroups
