package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/workshop-dev/workshop/internal/exit"
	"golang.org/x/sys/unix"
)

// Mode is the layout of the host's cgroup filesystems.
type Mode int

const (
	V1     Mode = iota + 1 // one mount per controller
	V2                     // one unified cgroup2 tree
	Hybrid                 // v1 controllers, plus cgroup2 at /sys/fs/cgroup/unified
)

func (m Mode) String() string {
	switch m {
	case V1:
		return "cgroup v1"
	case V2:
		return "cgroup v2"
	case Hybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Describe says what the mode means for the student, in two sentences.
func (m Mode) Describe() string {
	switch m {
	case V1:
		return "cgroup v1: each controller (memory, cpu, pids…) is its own mount under /sys/fs/cgroup, " +
			"so the container gets one directory in each, as the walkthrough's cgcreate makes them."
	case V2:
		return "cgroup v2: one tree at /sys/fs/cgroup; the container gets one directory, after its parent " +
			"switches the controllers on for it in cgroup.subtree_control. The walkthrough's v1 file names " +
			"(memory.limit_in_bytes) do not exist here: v2 calls it memory.max."
	case Hybrid:
		return "hybrid: v1 controllers under /sys/fs/cgroup/<controller>, beside a cgroup2 tree at " +
			"/sys/fs/cgroup/unified that only tracks processes. The limits live in the v1 hierarchies, " +
			"so this machine behaves as the walkthrough's v1 commands expect."
	}
	return m.String()
}

// The filesystem magic numbers statfs(2) returns (linux/magic.h).
const (
	cgroup2Magic = unix.CGROUP2_SUPER_MAGIC
	cgroupMagic  = unix.CGROUP_SUPER_MAGIC
	tmpfsMagic   = unix.TMPFS_MAGIC
)

// Root is where every distribution mounts the cgroup filesystems.
const Root = "/sys/fs/cgroup"

// unifiedDir is where a hybrid host mounts its cgroup2 tree.
const unifiedDir = "unified"

// v1Controllers are the v1 hierarchies a container's group is made in:
// the three that carry its limits, cpuacct for the CPU time it used, and
// the freezer that lets Kill stop a fork bomb before killing it.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "freezer"}

// leanControllers are the v1 hierarchies a group made by NewLean is in:
// memory (its limit, `workshop ps`'s memory in use, the OOM count), pids
// (its limit, and where lesson 6's exercise finds the group), the freezer
// (Kill), and cpu only for a CPU limit. cpuacct and cpu only feed step 4's
// table of CPU time, which step 6 does not print: two directories fewer to
// make, step into, step out of and remove in every run.
func (l Limits) leanControllers() []string {
	ctrls := []string{"memory", "pids", "freezer"}
	if l.CPUs > 0 {
		ctrls = append(ctrls, "cpu")
	}
	return ctrls
}

// host is a cgroup filesystem: the real one, or a fake tree in a unit test,
// where magic says which directories stand for which filesystems.
type host struct {
	root  string
	magic func(path string) (int64, error)
	// mounts, when not nil, gives v1Mounts once looked up: the real host's
	// hierarchies do not change while workshop runs, and a run asks for
	// them five times (detect, create, the parents to remove…), each a
	// statfs and a symlink walk per controller.
	mounts func() map[string]string
}

// realHost is this machine's cgroup filesystem, found once: the hierarchies
// do not change while workshop runs.
var realHost = sync.OnceValue(func() host {
	h := host{root: Root, magic: statfsMagic}
	h.mounts = sync.OnceValue(h.scanV1Mounts)
	r := h.resolve() // its scan is the memo's: one scan a run, not two
	if r.root != h.root {
		r.mounts = sync.OnceValue(r.scanV1Mounts)
	}
	return r
})

// resolve returns the host to use: h itself, or, on a hybrid machine whose
// limit controllers all moved to the unified tree (booted with
// cgroup_no_v1=memory,pids or =all: the v1 hierarchies hold none of them,
// and /sys/fs/cgroup/unified lists them in cgroup.controllers), that tree,
// which is then a cgroup v2 machine's tree in all but its place.
func (h host) resolve() host {
	if m, err := h.magic(h.root); err != nil || m != tmpfsMagic {
		return h
	}
	unified := filepath.Join(h.root, unifiedDir)
	if m, err := h.magic(unified); err != nil || m != cgroup2Magic {
		return h
	}
	v1 := h.v1Mounts()
	if _, ok := v1["memory"]; ok {
		return h
	}
	if _, ok := v1["pids"]; ok {
		return h
	}
	ctrls := fieldSet(readString(filepath.Join(unified, v2Controllers)))
	if !ctrls["memory"] && !ctrls["pids"] {
		return h
	}
	return host{root: unified, magic: h.magic}
}

// TreeRoot is where this machine's cgroups are looked for: /sys/fs/cgroup,
// or its unified tree on a hybrid machine whose controllers all moved there
// (see resolve).
func TreeRoot() string { return realHost().root }

func statfsMagic(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(st.Type), nil
}

// Detect tells the host's cgroup layout by the filesystem types, as
// systemd and runc do: statfs(2) on /sys/fs/cgroup says cgroup2 (v2) or
// tmpfs (v1, or hybrid when a cgroup2 is mounted at /sys/fs/cgroup/unified).
//
// Whether the unified mount lists controllers is not the test: a hybrid host
// may give it one (this project's CI machine lists hugetlb there) while
// memory, cpu and pids stay in v1.
func Detect() (Mode, error) { return realHost().detect() }

func (h host) detect() (Mode, error) {
	magic, err := h.magic(h.root)
	if err != nil {
		return 0, exit.Errorf(exit.ToolFailed, "cannot tell the cgroup version: %v; see 'workshop doctor'", err)
	}
	switch magic {
	case cgroup2Magic:
		return V2, nil
	case tmpfsMagic:
		if len(h.v1Mounts()) == 0 {
			return 0, exit.Errorf(exit.ToolFailed, "%s is a tmpfs with no cgroup v1 controller mounted in it, and no unified tree there lists the memory or pids controller: "+
				"this machine has no usable cgroups; see 'workshop doctor'", h.root)
		}
		if m, err := h.magic(filepath.Join(h.root, unifiedDir)); err == nil && m == cgroup2Magic {
			return Hybrid, nil
		}
		return V1, nil
	}
	return 0, exit.Errorf(exit.ToolFailed, "%s is neither a cgroup2 mount nor a tmpfs holding cgroup v1 mounts "+
		"(filesystem magic %#x): mount cgroup2 there (mount -t cgroup2 none %s); see 'workshop doctor'", h.root, magic, h.root)
}

// v1Mounts returns the mounted v1 hierarchies among v1Controllers, by
// controller. Co-mounted controllers share a mount, usually reached through
// two symlinks (cpu and cpuacct -> cpu,cpuacct): the link is resolved, so
// both controllers give the same directory.
func (h host) v1Mounts() map[string]string {
	if h.mounts != nil {
		return maps.Clone(h.mounts())
	}
	return h.scanV1Mounts()
}

func (h host) scanV1Mounts() map[string]string {
	mounts := map[string]string{}
	for _, c := range v1Controllers {
		p := filepath.Join(h.root, c)
		if m, err := h.magic(p); err != nil || m != cgroupMagic {
			continue
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		mounts[c] = p
	}
	return mounts
}
