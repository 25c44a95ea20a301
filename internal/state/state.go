// Package state records what a run made on this machine (its cgroup, its
// mounts, its directories) before it makes it, so that `workshop ps` can list
// the running containers from another terminal and `workshop clean` can undo
// what a run killed with SIGKILL left behind.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Run is one container run, as recorded under <state>/containers/<id>/state.json.
type Run struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Step    int       `json:"step"` // the step that made it: 4, 6…
	Image   string    `json:"image,omitempty"`
	Command []string  `json:"command"`
	Created time.Time `json:"created"`

	// WorkshopPid is the workshop process in charge of the run; its start
	// time (field 22 of /proc/PID/stat) tells a live owner from a reused pid.
	WorkshopPid   int    `json:"workshop_pid"`
	WorkshopStart uint64 `json:"workshop_start"`
	// WorkshopPidNS is that process's PID namespace (its /proc/self/ns/pid
	// link, "pid:[4026531836]"): the pids of the record are that
	// namespace's, and mean another process in any other.
	WorkshopPidNS string `json:"workshop_pidns,omitempty"`
	// Pid is the container's first process as the host sees it (0 until started).
	Pid int `json:"pid"`

	Cgroups []string `json:"cgroups,omitempty"` // cgroup directories, to kill and remove
	Mounts  []string `json:"mounts,omitempty"`  // mount points on the host, to unmount
	Dirs    []string `json:"dirs,omitempty"`    // directories to remove (upper, work, rootfs)
	Keep    bool     `json:"keep,omitempty"`    // --keep: the writable layer stays after the run
	// Init: the container's first process is workshop's init (--init),
	// which runs the command as its child (for kill, which would
	// otherwise guess it from /proc).
	Init bool `json:"init,omitempty"`

	// Lower and Upper are the overlay's layers (step 6): the image's rootfs
	// and the container's writable layer, which `workshop diff` compares.
	Lower string `json:"lower,omitempty"`
	Upper string `json:"upper,omitempty"`
	// Copied: the kernel had no overlayfs, and the container's root is a
	// full copy of the image, written in place: Upper stays empty, and
	// there is no layer of its changes for diff to read.
	Copied bool `json:"copied,omitempty"`
	// ProcessesLeft: the run ended with processes of the container still
	// in its cgroup (Cgroups), which may write through its root: the
	// mount and the layer stay with them, for clean.
	ProcessesLeft bool `json:"processes_left,omitempty"`
	// RuntimeDirs are the mount points the runtime made in the writable
	// layer because the image lacked them (/proc, /dev): changes of the
	// runtime's, not of the container's command, which diff leaves out.
	RuntimeDirs []string `json:"runtime_dirs,omitempty"`

	dir string
	// held is the run's directory, open in the workshop in charge of it,
	// which holds an exclusive flock on it for as long as it lives (Owned).
	held *os.File
}

// ContainersDir is where runs are recorded.
func ContainersDir(stateDir string) string { return filepath.Join(stateDir, "containers") }

// Dir is the directory of this run's state.
func (r *Run) Dir() string { return r.dir }

// New records a run owned by this process, before it makes anything.
func New(stateDir string, r *Run) error {
	dir := ContainersDir(stateDir)
	r.WorkshopPid = os.Getpid()
	r.WorkshopStart = StartTime(r.WorkshopPid)
	r.WorkshopPidNS, _ = os.Readlink("/proc/self/ns/pid")
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	// Made under a temporary name with its record in it, then renamed: a
	// directory named by an id always holds its record, so that one
	// without is never a run being recorded, and `workshop clean` removes
	// it at once. The temporary name names this process (makingName): in
	// the moment between the mkdir and the lock below, clean tells one
	// being made from one whose workshop was killed there.
	r.dir = filepath.Join(dir, makingName(r.ID))
	if err := mkdirIn(dir, r.dir); err != nil {
		return fmt.Errorf("record the container: %w", err)
	}
	// Held before the directory takes the run's id: from then on, until
	// this process ends however it ends, the lock says it lives.
	held, err := os.Open(r.dir)
	if err == nil {
		err = holdExclusive(held)
	}
	if err != nil {
		if held != nil {
			held.Close()
		}
		os.RemoveAll(r.dir)
		return fmt.Errorf("record the container: lock %s: %w", r.dir, err)
	}
	r.held = held
	if err := r.Save(); err != nil {
		r.held.Close()
		os.RemoveAll(r.dir)
		return err
	}
	final := filepath.Join(dir, r.ID)
	if err := os.Rename(r.dir, final); err != nil {
		r.held.Close()
		os.RemoveAll(r.dir)
		return fmt.Errorf("record the container: %w", err)
	}
	r.dir = final
	return nil
}

// mkdirIn makes the directory sub in dir, making dir first when it is
// missing. `workshop clean` removes dir when it finds it empty: should it do
// so between the two mkdirs, dir is made again. Once sub is in it, dir is
// not empty, and stays.
func mkdirIn(dir, sub string) error {
	for tries := 0; ; tries++ {
		if err := MkdirPrivate(dir); err != nil {
			return err
		}
		err := os.Mkdir(sub, 0o700)
		if !errors.Is(err, os.ErrNotExist) || tries == 100 {
			return err
		}
	}
}

// MkdirPrivate makes dir, a directory of the state dir (images,
// containers), root's alone (0700), if it is missing. The state dir above
// it, and any directory made on the way to it, is 0755, as step 1 makes
// them, whatever the umask (077 under some sudo setups): a step 3 root in
// the state dir (my-new-root) must be reachable by the host uid that
// --map-users makes the container's root, which is not root. (os.MkdirAll
// would give them all dir's 0700.)
func MkdirPrivate(dir string) error {
	if err := mkdirAllOpen(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// createMarker creates the file name, new, in dir: a directory of markers
// (pending/, stragglers/) that clean and the last marker's Done remove
// when it is empty. One removed between its mkdir and the create is made
// again: once the file is in it, it stays.
func createMarker(dir, name string) (*os.File, error) {
	var f *os.File
	var err error
	for try := 0; try < 3; try++ {
		if err = MkdirPrivate(dir); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	return f, err
}

// mkdirAllOpen is mkdir -p with mode 0755 for each directory it makes, the
// umask notwithstanding; the directories that exist keep their modes.
func mkdirAllOpen(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAllOpen(parent); err != nil {
			return err
		}
	}
	switch err := os.Mkdir(dir, 0o755); {
	case errors.Is(err, os.ErrExist):
		return nil // made meanwhile, by another workshop
	case err != nil:
		return err
	}
	return os.Chmod(dir, 0o755)
}

// makingName is the name New makes a run's directory under: MakingPrefix,
// the id, and this process's pid, start time and PID namespace (the inode
// of /proc/self/ns/pid), dot-separated.
func makingName(id string) string {
	return fmt.Sprintf("%s%s.%d.%d.%d", MakingPrefix, id, os.Getpid(), StartTime(os.Getpid()), pidNamespace())
}

// pidNamespace is the inode number of this process's PID namespace, or 0.
func pidNamespace() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) != nil {
		return 0
	}
	return st.Ino
}

// Maker tells, of a run's directory named as New makes it (makingName),
// whether the workshop that made it is known to be dead, known to live, or
// neither.
type Maker int

const (
	// MakerUnknown: made in another PID namespace, where its pid cannot
	// be looked at, or not named so.
	MakerUnknown Maker = iota
	// MakerGone: its pid, in this PID namespace, is no process started
	// when it was, or a zombie.
	MakerGone
	// MakerAlive: the process that made it lives.
	MakerAlive
)

// MakerOf reads the maker of a run's directory from its name.
func MakerOf(name string) Maker {
	fields := strings.Split(strings.TrimPrefix(name, MakingPrefix), ".")
	if !strings.HasPrefix(name, MakingPrefix) || len(fields) != 4 {
		return MakerUnknown
	}
	pid, err1 := strconv.Atoi(fields[1])
	start, err2 := strconv.ParseUint(fields[2], 10, 64)
	ns, err3 := strconv.ParseUint(fields[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 || ns == 0 || ns != pidNamespace() || start == 0 {
		return MakerUnknown
	}
	if startedAt(pid, start) {
		return MakerAlive
	}
	return MakerGone
}

// MakingPrefix, NewPrefix and GonePrefix begin the names of a run's
// directory while it is made (New: MakingPrefix; NewPrefix by older
// workshops) and while it is removed (Forget, `workshop clean`): List
// skips them, and clean knows them.
const (
	MakingPrefix = ".mk-"
	NewPrefix    = ".new-"
	// LabScratchPrefix starts the name of the directory where lab 5's
	// check unpacks the student's archive (in the state dir, or the
	// system's temporary directory), followed by the check's pid: a check
	// killed with SIGKILL leaves it, and `workshop clean` removes it once
	// that pid is gone (doctor.StaleByPid).
	LabScratchPrefix = ".workshop-lab5-"
	GonePrefix       = ".gone-"
)

// GoneDir is where the run's directory is renamed to before it is removed:
// in one step, so that no directory named by its id is left without its
// record, whenever the removal stops.
func (r *Run) GoneDir() string { return filepath.Join(filepath.Dir(r.dir), GonePrefix+r.ID) }

// EndedWithLayerKept reports whether the run ended by itself, its writable
// layer kept (--keep): its workshop cleared the pid and the mounts it
// undid, and left the layer for `workshop diff`. A killed run's record
// still names them.
func (r *Run) EndedWithLayerKept() bool { return r.Keep && r.Pid == 0 && len(r.Mounts) == 0 }

// recordName is the run's record in its directory, and recordTemp the
// file Save writes it to first.
const (
	recordName = "state.json"
	recordTemp = ".state.json.tmp"
)

// Recorded reports whether the run's record is still there. A record read
// by List whose workshop is gone by the time Owned looks was, most likely,
// forgotten by that workshop as its run ended (it forgets before it exits):
// only one still there was left by a killed workshop.
func (r *Run) Recorded() bool {
	_, err := os.Lstat(filepath.Join(r.dir, recordName))
	return err == nil
}

// Ownership reports whether the run's workshop lives (Owned) and, if not,
// whether the run ended by itself after its record was read (forgotten:
// its workshop is gone, and its record with it). A killed workshop's
// record stays: Owned alone would take the one for the other. Owned is
// asked once, then the record looked at: a workshop forgets its record
// before it exits, so a run that ends meanwhile is never taken for a
// killed one.
func (r *Run) Ownership() (owned, forgotten bool) {
	owned = r.Owned()
	return owned, !owned && !r.Recorded()
}

// Forgotten is Ownership's second answer.
func (r *Run) Forgotten() bool {
	_, forgotten := r.Ownership()
	return forgotten
}

// Save writes the record atomically (a reader never sees half of it).
func (r *Run) Save() error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(r.dir, recordTemp)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("record the container: %w", err)
	}
	return os.Rename(tmp, filepath.Join(r.dir, recordName))
}

// killMark is the file in a run's directory where `workshop kill` notes the
// signal it sends, just before it sends it. The run's own workshop sees only
// a wait status, and a SIGKILL from `workshop kill` looks the same as one
// from the OOM killer: the mark tells it which it was.
const killMark = "kill"

// MarkKill notes that `workshop kill` is sending sig to the run's first
// process. Each kill adds a line (an append of a few bytes is written
// whole): two kills at once, a SIGKILL and a SIGTERM, are both known,
// where a file written over kept the last and the run blamed its SIGKILL
// on another cause. The line starts with a newline too, so that it never
// runs into a mark an older workshop wrote without one.
func (r *Run) MarkKill(sig int) error { return r.appendMark(sig) }

// UnmarkKill takes back one MarkKill(sig) whose signal could not be sent:
// a mark left standing would blame a later death on a kill that never
// happened (an OOM kill said to be workshop kill's SIGKILL).
func (r *Run) UnmarkKill(sig int) error { return r.appendMark(-sig) }

func (r *Run) appendMark(mark int) error {
	f, err := os.OpenFile(filepath.Join(r.dir, killMark), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n%d\n", mark)
	return errors.Join(err, f.Close())
}

// KillSent reports whether `workshop kill` sent sig to the run's first
// process: marked more times than taken back.
func (r *Run) KillSent(sig int) bool {
	b, err := os.ReadFile(filepath.Join(r.dir, killMark))
	if err != nil || sig <= 0 {
		return false
	}
	sent := 0
	for _, f := range strings.Fields(string(b)) {
		switch n, err := strconv.Atoi(f); {
		case err != nil:
		case n == sig:
			sent++
		case n == -sig:
			sent--
		}
	}
	return sent > 0
}

// Forget removes the run's record (and its directory, which holds nothing
// else by then but kill's mark), and lets go of its lock.
func (r *Run) Forget() error {
	defer r.LetGo()
	if err := os.Rename(r.dir, r.GoneDir()); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(r.GoneDir())
}

// LetGo lets go of the lock that says the run's workshop lives (see
// Owned), as that workshop's end does, however it ends; a no-op for a run
// this process did not record.
func (r *Run) LetGo() {
	if r.held != nil {
		r.held.Close()
		r.held = nil
	}
}

// Load reads one run by id (or by unique id prefix or name).
func Load(stateDir, ref string) (*Run, error) {
	runs, bad, err := Scan(stateDir)
	if err != nil {
		return nil, err
	}
	if ref == "" {
		return nil, fmt.Errorf("give a container's id or name (see 'workshop ps')")
	}
	// Docker's order: the whole id, then the name (names are unique), then
	// an id prefix, which must be unique. A name that is also the start of
	// another container's id still names its container.
	var named, found []*Run
	for _, r := range runs {
		if r.ID == ref {
			return r, nil
		}
		if r.Name == ref {
			named = append(named, r)
		}
		if strings.HasPrefix(r.ID, ref) {
			found = append(found, r)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
	default:
		return nil, fmt.Errorf("%q names more than one container: give its id (see 'workshop ps')", ref)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		// A directory of that id whose record cannot be read (damaged by
		// hand, or by a disk that failed).
		for _, d := range bad {
			if d.ID == ref {
				return nil, errors.New(d.String())
			}
		}
		dir := filepath.Join(ContainersDir(stateDir), ref)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() && filepath.Base(dir) == ref {
			if _, err := os.Stat(filepath.Join(dir, recordName)); err == nil {
				// Written just after Scan read the directory.
				return nil, fmt.Errorf("container %s was being recorded as it was looked for: try again", ref)
			}
			return nil, fmt.Errorf("container %s: its directory holds no record (left by an older workshop, or emptied by hand): 'workshop clean' removes it", ref)
		}
		// A name or id it may hold, which no one can read.
		if len(bad) == 1 {
			return nil, fmt.Errorf("%w, unless it is container %s, whose record cannot be read ('workshop ps' says more)", noContainerError(ref), bad[0].ID)
		} else if len(bad) > 1 {
			ids := make([]string, len(bad))
			for i, d := range bad {
				ids[i] = d.ID
			}
			return nil, fmt.Errorf("%w, unless it is one of the containers %s, whose records cannot be read ('workshop ps' says more)", noContainerError(ref), strings.Join(ids, ", "))
		}
		return nil, noContainerError(ref)
	default:
		return nil, fmt.Errorf("%q begins the id of more than one container: give more of it (see 'workshop ps')", ref)
	}
}

// ErrNoContainer is the cause of Load's error when nothing is recorded by
// that id or name (errors.Is).
var ErrNoContainer = errors.New("no such container")

// noContainerError is Load's sentence for a ref that names nothing.
type noContainerError string

func (e noContainerError) Error() string {
	return fmt.Sprintf("no container %q (see 'workshop ps')", string(e))
}
func (e noContainerError) Is(target error) bool { return target == ErrNoContainer }

// Damaged is a container directory whose record cannot be read: written
// whole by a rename, a record is never seen half-written, so one is damaged
// (by hand, or by a disk that failed).
type Damaged struct {
	ID, Dir string
	Err     error
}

func (d Damaged) String() string {
	return fmt.Sprintf("container %s: its record is unreadable (%v): look at %s, and remove it by hand once nothing runs from it", d.ID, d.Err, d.Dir)
}

// Unreadable lists the container directories whose record List skipped
// because it cannot be read or parsed (not those being made or removed,
// nor one removed since List read the directory).
func Unreadable(stateDir string) []Damaged {
	_, bad, _ := Scan(stateDir)
	return bad
}

// List returns every recorded run, oldest first. A record that cannot be
// read is skipped (Unreadable lists them), as is a run being written or
// removed.
func List(stateDir string) ([]*Run, error) {
	runs, _, err := Scan(stateDir)
	return runs, err
}

// Scan reads the records under stateDir once: the runs, oldest first (as
// List), and the records that cannot be read (as Unreadable).
func Scan(stateDir string) ([]*Run, []Damaged, error) {
	entries, err := os.ReadDir(ContainersDir(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var runs []*Run
	var bad []Damaged
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue // being made or removed (MakingPrefix, NewPrefix, GonePrefix)
		}
		dir := filepath.Join(ContainersDir(stateDir), e.Name())
		data, err := os.ReadFile(filepath.Join(dir, recordName))
		if errors.Is(err, os.ErrNotExist) {
			continue // gone since, or never recorded: clean's to say
		}
		r := &Run{dir: dir}
		if err == nil {
			err = json.Unmarshal(data, r)
		}
		if err != nil {
			bad = append(bad, Damaged{ID: e.Name(), Dir: dir, Err: err})
			continue
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Created.Before(runs[j].Created) })
	return runs, bad, nil
}

// Owned reports whether the workshop process in charge of the run is still
// alive: if not, the run was killed (SIGKILL, a crash) and `workshop clean`
// may undo it. A live one holds a flock on the run's directory, which the
// kernel lets go when it ends, however it ends: that tells, in any PID
// namespace. Its pid and start time tell too, in its own (a record of a
// workshop that took no lock). (A child it forked holds the lock too, for
// the moment until its execve: LockOutlivesWorkshop.)
func (r *Run) Owned() bool {
	if r.lockHeld() {
		return true
	}
	if r.WorkshopPid <= 0 || r.OtherPIDNamespace() {
		return false
	}
	return r.workshopAlive()
}

// workshopAlive reports whether the run's workshop, a pid of this PID
// namespace, lives: the process of that pid, started when it was.
func (r *Run) workshopAlive() bool { return startedAt(r.WorkshopPid, r.WorkshopStart) }

// startedAt reports whether process pid lives and was started at start
// (StartTime): the same process, not another that reused its pid.
func startedAt(pid int, start uint64) bool {
	// A killed process stays a zombie until its parent collects it: dead
	// already, it will undo nothing.
	if s := statField(pid, 3); s == "Z" || s == "X" {
		return false
	}
	st := StartTime(pid)
	return st != 0 && st == start
}

// LockOutlivesWorkshop reports whether the run's lock is held though its
// workshop, a pid of this PID namespace, is dead: a process it forked
// holds it then, with a copy of the lock's descriptor, until its execve
// (the descriptor is close-on-exec) or its end, a moment later. A workshop
// killed (SIGKILL) while it started the container leaves one so.
func (r *Run) LockOutlivesWorkshop() bool {
	return r.WorkshopPid > 0 && !r.OtherPIDNamespace() && !r.workshopAlive() && r.lockHeld()
}

// lockHeld reports whether a process holds the exclusive flock on the
// run's directory (its workshop, from New on).
func (r *Run) lockHeld() bool { return r.dir != "" && heldByALiveProcess(r.dir) }

// holdExclusive takes the exclusive flock on f that says its process
// lives, for as long as f stays open (the kernel lets go of it when the
// process ends, however it ends).
func holdExclusive(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// heldByALiveProcess reports whether a process holds holdExclusive's lock
// on path. The try takes a shared one, without waiting, and lets go at
// once: two that look at once (ps and clean) do not see each other's.
func heldByALiveProcess(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// OtherPIDNamespace reports whether the workshop in charge of the run
// lives in another PID namespace than this process: the record's pids are
// that namespace's, and here name other processes, or none.
func (r *Run) OtherPIDNamespace() bool {
	if r.WorkshopPidNS == "" {
		return false
	}
	ours, err := os.Readlink("/proc/self/ns/pid")
	return err == nil && ours != r.WorkshopPidNS
}

// StartTime is field 22 of /proc/PID/stat (clock ticks after boot), or 0.
func StartTime(pid int) uint64 {
	v, _ := strconv.ParseUint(statField(pid, 22), 10, 64)
	return v
}

// RunsThisProgram reports whether process pid runs the same program file
// as this process (/proc/PID/exe): workshop, not a program it exec'd.
func RunsThisProgram(pid int) bool {
	self, err1 := os.Stat("/proc/self/exe")
	theirs, err2 := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	return err1 == nil && err2 == nil && os.SameFile(self, theirs)
}

// ParentPid is the parent of pid (field 4 of /proc/PID/stat), or 0.
func ParentPid(pid int) int {
	v, _ := strconv.Atoi(statField(pid, 4))
	return v
}

// Children lists the children of process pid, of every one of its threads
// (/proc/PID/task/TID/children: a Go program forks from any thread). A
// kernel built without CONFIG_PROC_CHILDREN has no such file: then every
// process's parent is read instead (field 4 of /proc/PID/stat).
func Children(pid int) []int {
	var kids []int
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if len(files) == 0 {
		return childrenByParent(pid)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(w); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// childrenByParent lists the processes whose parent is pid, from every
// /proc/PID/stat.
func childrenByParent(pid int) []int {
	var kids []int
	all, _ := Pids()
	for _, k := range all {
		if ParentPid(k) == pid {
			kids = append(kids, k)
		}
	}
	return kids
}

// Pids lists the processes /proc shows now (this one among them): the
// numbered entries of /proc.
func Pids() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Opening lists the processes other than this one that have the file at
// path open (a descriptor on its inode, in /proc/PID/fd). The holder of a
// run's lock is among them: /proc/locks names the process that took a
// flock, which may be dead, not a child that holds it through a copy of
// the descriptor.
func Opening(path string) []int {
	var want unix.Stat_t
	if unix.Stat(path, &want) != nil {
		return nil
	}
	all, _ := Pids()
	var pids []int
	for _, pid := range all {
		if pid == os.Getpid() {
			continue
		}
		fdDir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			// The path first (a readlink), the inode only for a match.
			target, err := os.Readlink(fdDir + fd.Name())
			var st unix.Stat_t
			if err != nil || strings.TrimSuffix(target, " (deleted)") != path || unix.Stat(fdDir+fd.Name(), &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
				continue
			}
			pids = append(pids, pid)
			break
		}
	}
	return pids
}

// Catches reports whether process pid has a handler for signal sig: its bit
// in SigCgt of /proc/PID/status (proc(5)). A PID 1 drops every signal it
// has no handler for, but SIGKILL and SIGSTOP from an ancestor namespace.
// ok is false when the status could not be read (the process is gone).
func Catches(pid, sig int) (caught, ok bool) { return signalBit(pid, "SigCgt", sig) }

// Ignores reports whether process pid ignores signal sig (SIG_IGN): its bit
// in SigIgn. ok as for Catches.
func Ignores(pid, sig int) (ignored, ok bool) { return signalBit(pid, "SigIgn", sig) }

// SignalPending reports whether signal sig, sent to process pid as a
// whole (kill(2)), waits for one of its threads to take it: its bit in
// ShdPnd. ok as for Catches.
func SignalPending(pid, sig int) (pending, ok bool) { return signalBit(pid, "ShdPnd", sig) }

// signalBit is sig's bit in the signal mask key of /proc/PID/status.
func signalBit(pid int, key string, sig int) (set, ok bool) {
	v, found := StatusField(pid, key)
	if !found {
		return false, false
	}
	mask, err := strconv.ParseUint(v, 16, 64)
	if err != nil || sig < 1 || sig > 64 {
		return false, false
	}
	return mask&(1<<(uint(sig)-1)) != 0, true
}

// StatusField is the value of the line "key:" of /proc/PID/status
// (/proc/self/status for a pid of 0), trimmed, and whether there is one.
func StatusField(pid int, key string) (string, bool) {
	p := "/proc/self/status"
	if pid > 0 {
		p = fmt.Sprintf("/proc/%d/status", pid)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, found := strings.CutPrefix(line, key+":"); found {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// statField is field n (counted from 1, as proc(5) does) of /proc/PID/stat,
// or "".
func statField(pid, n int) string {
	fields := statFields(pid)
	if n < 3 || len(fields) < n-2 {
		return ""
	}
	return fields[n-3]
}

// statFields are the fields of /proc/PID/stat from the third (the state)
// on, or none. The command name (field 2) may hold spaces and
// parentheses: the fields after it are counted from its last ')'.
func statFields(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// Proc is what /proc/PID/stat says of a process (or, by its TID, of a
// thread), its numbers as the reader's PID namespace has them.
type Proc struct {
	State                  byte // R, S, D, T, Z, X…
	Parent, Group, Session int
}

// Stat reads /proc/PID/stat once; false when the process is gone.
func Stat(pid int) (Proc, bool) {
	f := statFields(pid)
	if len(f) < 4 || f[0] == "" {
		return Proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	sid, err3 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || err3 != nil {
		return Proc{}, false
	}
	return Proc{State: f[0][0], Parent: ppid, Group: pgrp, Session: sid}, true
}

// Ended reports whether p has ended (a zombie, or dead): nothing of it runs.
func (p Proc) Ended() bool { return p.State == 'Z' || p.State == 'X' }
