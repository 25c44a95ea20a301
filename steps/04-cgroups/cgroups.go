package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	"golang.org/x/sys/unix"
)

// Parent is the directory every container's group is made in.
const Parent = "workshop"

// Files both versions share, under the same name.
const (
	procsFile      = "cgroup.procs" // the pids in the group; write one to move it in
	pidsMaxFile    = "pids.max"     // the most tasks the group may hold
	pidsEventsFile = "pids.events"  // "max N": N forks refused by pids.max
)

// Limits are what a container may use. Zero means no limit.
type Limits struct {
	Memory int64   // bytes
	Pids   int64   // processes (tasks, in fact: threads count too)
	CPUs   float64 // 0.5 is half of one core
}

// cpuPeriod is the CFS bandwidth period both versions use by default: a
// CPU share of 0.5 is a quota of 50ms in every 100ms.
const cpuPeriod = 100000 // µs

func (l Limits) cpuQuota() int64 { return int64(l.CPUs*cpuPeriod + 0.5) }

// need is a controller a limit needs, and what that limit limits, in words.
type need struct{ what, ctrl string }

// needs lists the controllers of the limits l sets, in the lesson's order.
func (l Limits) needs() []need {
	var ns []need
	if l.Memory > 0 {
		ns = append(ns, need{"memory", "memory"})
	}
	if l.CPUs > 0 {
		ns = append(ns, need{"the CPU share", "cpu"})
	}
	if l.Pids > 0 {
		ns = append(ns, need{"the number of processes", "pids"})
	}
	return ns
}

// Cgroup is one container's control group.
type Cgroup struct {
	n    *sys.Narrator
	h    host
	id   string
	mode Mode
	// dirs are the group's directories: one on v2; on v1 one per
	// hierarchy, keyed by controller (co-mounted controllers share one).
	dirs map[string]string
	// switchedOn are the v2 controllers New switched on up the tree.
	switchedOn []switched
}

// switched is one write to a v2 cgroup.subtree_control: "+memory +pids"
// into file.
type switched struct{ controllers, file string }

// SwitchedOn says which controllers making the group switched on for the
// children of the groups above it (v2), as "+memory +pids in
// /sys/fs/cgroup/cgroup.subtree_control", where they are still on: not in
// a group Remove removed since (the workshop parent, once empty).
func (c *Cgroup) SwitchedOn() []string {
	var on []string
	for _, s := range c.switchedOn {
		if _, err := os.Stat(s.file); err == nil {
			on = append(on, s.controllers+" in "+s.file)
		}
	}
	return on
}

// v2Key is the key of the one directory a v2 group has.
const v2Key = "unified"

// validID says whether id may name a group: a letter or digit, then
// letters, digits, '_', '.' and '-' (^[A-Za-z0-9][A-Za-z0-9_.-]*$, checked
// by hand: compiling the expression cost every run a tenth of a millisecond).
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return id != ""
}

// New makes the group of container id with limits l, and writes each limit
// into its file, by hand. A limit the host cannot apply is an error (exit
// 125) naming the file, and nothing is left behind.
func New(n *sys.Narrator, id string, l Limits) (*Cgroup, error) {
	return realHost().create(n, id, l, v1Controllers)
}

// NewLean is New for a run that prints no statistics (step 6): on cgroup
// v1 the group is made only in the hierarchies the run uses (see
// leanControllers); on v2, where one directory holds every controller, it
// is New.
func NewLean(n *sys.Narrator, id string, l Limits) (*Cgroup, error) {
	return realHost().create(n, id, l, l.leanControllers())
}

func (h host) create(n *sys.Narrator, id string, l Limits, v1Ctrls []string) (*Cgroup, error) {
	if !validID(id) {
		return nil, exit.Errorf(exit.ToolFailed, "%q cannot name a cgroup: use letters, digits, '_', '.' and '-'", id)
	}
	mode, err := h.detect()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{n: n, h: h, id: id, mode: mode}
	if mode == V2 {
		err = c.createV2(l)
	} else {
		err = c.createV1(l, v1Ctrls)
	}
	if err != nil {
		// Undo what was made, the parents included, so a refused limit
		// leaves the machine as it was.
		c.Remove()
		return nil, err
	}
	return c, nil
}

// Open finds the existing group of container id (for ps, kill and clean).
// It narrates nothing until given a narrator with With.
func Open(id string) (*Cgroup, error) { return realHost().open(id) }

func (h host) open(id string) (*Cgroup, error) {
	if !validID(id) {
		return nil, exit.Errorf(exit.ToolFailed, "%q cannot name a cgroup", id)
	}
	mode, err := h.detect()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{n: sys.Discard(), h: h, id: id, mode: mode, dirs: map[string]string{}}
	for key, dir := range h.groupDirs(mode, id) {
		if _, err := os.Stat(dir); err == nil {
			c.dirs[key] = dir
		}
	}
	if len(c.dirs) == 0 {
		return nil, exit.Errorf(exit.ToolFailed, "there is no cgroup for container %q under %s", id, filepath.Join(h.root, "…", Parent))
	}
	return c, nil
}

// groupDirs are the directories container id's group has or would have.
func (h host) groupDirs(mode Mode, id string) map[string]string {
	if mode == V2 {
		return map[string]string{v2Key: filepath.Join(h.root, Parent, id)}
	}
	dirs := map[string]string{}
	for c, mnt := range h.v1Mounts() {
		dirs[c] = filepath.Join(mnt, Parent, id)
	}
	return dirs
}

// parents are the workshop directories groups are made in: one on v2, one
// per hierarchy on v1.
func (h host) parents(mode Mode) []string {
	if mode == V2 {
		return []string{filepath.Join(h.root, Parent)}
	}
	seen := map[string]bool{}
	var parents []string
	for _, mnt := range h.v1Mounts() {
		p := filepath.Join(mnt, Parent)
		if !seen[p] {
			seen[p] = true
			parents = append(parents, p)
		}
	}
	sort.Strings(parents)
	return parents
}

// Parents are the workshop directories groups are made in on this host:
// one on v2, one per hierarchy workshop uses on v1 (a directory of the
// same name elsewhere, another hierarchy's or another program's, is none
// of workshop's).
func Parents() ([]string, error) {
	h := realHost()
	mode, err := h.detect()
	if err != nil {
		return nil, err
	}
	return h.parents(mode), nil
}

// Supported says, for `workshop doctor`, the host's layout and which of
// memory, cpu and pids workshop can limit where it puts its groups.
func Supported() (Mode, map[string]bool, error) { return realHost().supported() }

func (h host) supported() (Mode, map[string]bool, error) {
	mode, err := h.detect()
	if err != nil {
		return 0, nil, err
	}
	ok := map[string]bool{}
	if mode == V2 {
		avail := fieldSet(readString(filepath.Join(h.root, v2Controllers)))
		for _, ctrl := range v2Wanted {
			ok[ctrl] = avail[ctrl]
		}
		return mode, ok, nil
	}
	mounts := h.v1Mounts()
	for _, ctrl := range v2Wanted {
		ok[ctrl] = mounts[ctrl] != ""
	}
	return mode, ok, nil
}

// List returns the ids of the groups under workshop/ (for `workshop clean`).
func List() ([]string, error) { return realHost().list() }

func (h host) list() ([]string, error) {
	mode, err := h.detect()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, p := range h.parents(mode) {
		entries, err := os.ReadDir(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				ids = append(ids, e.Name())
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// With returns the group narrating through n.
func (c *Cgroup) With(n *sys.Narrator) *Cgroup {
	cp := *c
	cp.n = n
	return &cp
}

// ID is the container id the group is named after.
func (c *Cgroup) ID() string { return c.id }

// Mode is the host's cgroup layout the group was made in.
func (c *Cgroup) Mode() Mode { return c.mode }

// Paths are the group's directories: one on v2, one per hierarchy on v1,
// in the order of v1Controllers (memory first, as the lesson reads).
func (c *Cgroup) Paths() []string {
	seen := map[string]bool{}
	var paths []string
	for _, key := range append([]string{v2Key}, v1Controllers...) {
		if d, ok := c.dirs[key]; ok && !seen[d] {
			seen[d] = true
			paths = append(paths, d)
		}
	}
	return paths
}

// narratedBy is the group with its calls narrated by n.
func (c *Cgroup) narratedBy(n *sys.Narrator) *Cgroup {
	d := *c
	d.n = n
	return &d
}

// Dir is the group's directory that holds controller's files ("memory",
// "cpu", "pids"…); on v2 every controller's files are in the one directory.
func (c *Cgroup) Dir(controller string) (string, bool) {
	if c.mode == V2 {
		return c.dirs[v2Key], true
	}
	d, ok := c.dirs[controller]
	return d, ok
}

// Add moves process pid into the group: its pid written into cgroup.procs
// (on v1, into that of every hierarchy). Its children will be born inside.
func (c *Cgroup) Add(pid int) error {
	for _, dir := range c.Paths() {
		if err := c.write(dir, procsFile, strconv.Itoa(pid), "put the process in the group"); err != nil {
			return err
		}
	}
	return nil
}

// Procs returns the pids in the group.
func (c *Cgroup) Procs() ([]int, error) {
	seen := map[int]bool{}
	var pids []int
	for _, dir := range c.Paths() {
		ps, err := readPids(filepath.Join(dir, procsFile))
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				pids = append(pids, p)
			}
		}
	}
	return pids, nil
}

// Kill kills every process in the group, including those a fork bomb is
// making while we kill: v2 has one file for that (cgroup.kill); v1 freezes
// the group first, so that no process can fork while the others are killed.
func (c *Cgroup) Kill() error {
	c.liftCPULimit()
	if c.mode == V2 {
		return c.killV2()
	}
	return c.killV1()
}

// liftCPULimit takes the group's CPU limit away before its processes are
// killed: a process must run to stop for the freezer and to exit, and
// thousands of them (a fork bomb under --pids 5000) sharing half a CPU took
// a minute to, while the class waited. Without a limit, or without the
// controller, it does nothing; a failure leaves the kill to be slow.
func (c *Cgroup) liftCPULimit() {
	why := "no CPU limit while its processes are killed: each must run to stop and to exit"
	if c.mode == V2 {
		dir := c.dirs[v2Key]
		if v, err := readString(filepath.Join(dir, v2CPUMax)); err == nil && !strings.HasPrefix(v, "max") {
			c.write(dir, v2CPUMax, "max", why)
		}
		return
	}
	if dir, ok := c.dirs["cpu"]; ok {
		if v, err := readString(filepath.Join(dir, v1CPUQuota)); err == nil && v != "-1" {
			c.write(dir, v1CPUQuota, "-1", why)
		}
	}
}

// killEach sends SIGKILL to every pid in the group.
func (c *Cgroup) killEach() error {
	pids, err := c.Procs()
	if err != nil {
		return err
	}
	// A fork bomb's group holds thousands: the first few kills are
	// printed, the rest counted, as a tree's unlinkat calls are. A process
	// that ended since the group was read fails with ESRCH: that call was
	// made too, so it is counted, and said apart. A call that fails
	// otherwise stops the kills; the ones made so far are still counted.
	hidden, gone := 0, 0
	var failed error
	for i, pid := range pids {
		var err error
		if i < shownKills {
			err = c.n.Kill(pid, unix.SIGKILL)
		} else {
			hidden++
			if err = unix.Kill(pid, unix.SIGKILL); errors.Is(err, unix.ESRCH) {
				gone++
			} else if err != nil {
				err = fmt.Errorf("kill %d: %w", pid, err)
			}
		}
		if err != nil && !errors.Is(err, unix.ESRCH) {
			failed = err
			break
		}
	}
	if hidden > 0 {
		c.n.Note("… and %s, one for each other process of the group, not shown%s", units.Count(hidden, "more kill(PID, SIGKILL) call", "more kill(PID, SIGKILL) calls"), hiddenKillsGone(gone))
	}
	return failed
}

// hiddenKillsGone says how many of the counted kill calls failed because
// their process had already ended.
func hiddenKillsGone(gone int) string {
	if gone == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of them = -1 ESRCH: the process had already ended)", gone)
}

// shownKills is how many of a group's kill calls are printed one by one.
const shownKills = 10

// drainWait bounds how long Remove waits for the processes of a killed
// group to be gone (exit is not instantaneous; in the test VM, work is
// ten times slower than here).
const drainWait = 20 * time.Second

// Remove removes the group: each directory, once no process is left in
// it (rmdir of a populated group fails with EBUSY), and then the workshop
// parent when no other container's group is in it.
func (c *Cgroup) Remove() error {
	var errs []error
	for _, dir := range c.Paths() {
		if err := c.removeDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, parent := range c.h.parents(c.mode) {
		c.removeParentIfEmpty(parent)
	}
	return errors.Join(errs...)
}

// drained waits, up to limit, until no process is left in the group, and
// reports whether none is.
func (c *Cgroup) drained(limit time.Duration) bool {
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		pids, err := c.Procs()
		if err == nil && len(pids) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func (c *Cgroup) removeDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(drainWait)
	for {
		pids, err := readPids(filepath.Join(dir, procsFile))
		if err != nil || len(pids) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A group whose last process just exited may still be busy for a moment.
	var err error
	for try := 0; try < 50; try++ {
		err = c.n.Rmdir(dir)
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return exit.Errorf(exit.ToolFailed, "cannot remove the cgroup %s: %v (are processes still in it? 'workshop clean' retries)", dir, err)
	}
	return nil
}

// removeParentIfEmpty removes the workshop parent when it holds no group,
// so a run leaves the machine as it found it. A container starting at the
// same moment may lose the race; create makes the parent again then.
func (c *Cgroup) removeParentIfEmpty(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			return
		}
	}
	c.n.Rmdir(parent)
}

// MemoryCurrent is the memory the group uses now, in bytes.
func (c *Cgroup) MemoryCurrent() (int64, error) {
	dir, ok := c.Dir("memory")
	if !ok {
		return 0, fmt.Errorf("the memory controller is not mounted, so the group's memory is not counted")
	}
	name := v1MemoryUsage
	if c.mode == V2 {
		name = v2MemoryCurrent
	}
	return readInt(filepath.Join(dir, name))
}

// write is the one writer of every cgroup file: the openat, write and close
// it takes are narrated, and a failure says which file and what to do.
func (c *Cgroup) write(dir, name, value, why string) error {
	path := filepath.Join(dir, name)
	// A v1 memory limit write fails with EINTR when a signal is pending,
	// and Go's runtime sends its own threads SIGURG to preempt a goroutine
	// that ran 10ms (golang/go#38033; runc and containerd retry as well).
	// Each attempt is narrated: the student sees the interrupted write.
	var err error
	for try := 0; try < 10; try++ {
		err = c.n.Because(why).WriteFile(path, []byte(value))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil {
		return nil
	}
	hint := "see 'workshop doctor'"
	switch {
	case errors.Is(err, unix.ENOENT):
		hint = "the kernel has no such file here: its controller is missing or not enabled; see 'workshop doctor'"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		hint = "run workshop as root (sudo); see 'workshop doctor'"
	}
	return exit.Errorf(exit.ToolFailed, "cannot write %q to %s: %w: %s", value, path, errnoOf(err), hint)
}

// missing is the error for a limit whose controller the host lacks.
func missing(what, controller, where string) error {
	return exit.Errorf(exit.ToolFailed, "cannot limit %s: the %s controller is not available (%s); "+
		"run 'workshop doctor' to see what this machine supports, or leave the limit out", what, controller, where)
}

func errnoOf(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// ReadKey reads one field of a flat keyed file such as memory.events:
// "oom_kill 1" lines. (Lab 4's check reads the student's group with it.)
func ReadKey(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %q field", path, key)
}

func readPids(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// exists says whether a file or directory is there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mkdirIfMissing makes a parent directory unless it is already there (made
// by another container); losing a race to make it is fine.
func (c *Cgroup) mkdirIfMissing(dir string) error {
	if exists(dir) {
		return nil
	}
	err := c.n.Because("make the parent group all of workshop's containers live under").Mkdir(dir, 0o755)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return exit.Errorf(exit.ToolFailed, "cannot make the cgroup %s: %v; see 'workshop doctor'", dir, errnoOf(err))
	}
	return nil
}
