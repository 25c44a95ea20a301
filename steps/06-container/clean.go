package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/flock"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// `workshop clean` undoes what the steps made on this machine, above all
// what a workshop process killed with SIGKILL could not undo itself. Every
// run that makes something records it first (internal/state); clean reads
// those records, and the kernel's own tables (/proc/self/mountinfo, the
// cgroup directories), and removes, in this order:
//
//  1. each recorded run whose workshop process is gone: what is left in its
//     cgroup is killed, its mounts are detached, its cgroup and its
//     directories removed, and its record last (a run still owned by a
//     live workshop process is left alone);
//  2. any mount left under the state directory, innermost first;
//  3. container directories with no record in them;
//  4. the cgroups under workshop/ that no run here records, if they are
//     empty and older than a minute (another state directory's running
//     container is never touched);
//  5. the roots steps 1 to 5 made, unless something is mounted there or
//     a process runs in them;
//  6. what an image addition killed halfway left in the image store, or
//     with Images the whole store.

// CleanOptions are what `workshop clean` was asked for.
type CleanOptions struct {
	StateDir string
	Images   bool // remove the image store too
	// Out gets one line for each thing removed or left alone, and why; Err
	// one line for each thing that could not be removed. The syscalls go
	// to the narrator.
	Out, Err io.Writer
	// Interrupt, when a stop signal comes on it, stops Clean once the
	// thing it is removing is removed (a container: its processes, mount,
	// cgroup, layer and record), not half-way through it.
	Interrupt <-chan os.Signal
}

// CleanResult counts what Clean did.
type CleanResult struct {
	Removed int     // things removed (a container and all it made count once)
	Left    int     // things left alone on purpose: something still uses them
	Failed  []error // things that could not be removed; a later clean retries
	// Stopped is why Clean stopped before its end: interrupted while it
	// waited for another clean of the same state directory, or between two
	// things it removed (an error with 128+n).
	Stopped error
}

// orphanAge is how old an empty cgroup recorded by no run of this state
// directory must be before clean removes it: a container starting from
// another state directory has an empty group for a moment, between the
// mkdir and the write of its first pid; so has `workshop doctor`.
const orphanAge = time.Minute

// staleAge is how old a container directory being made (state.MakingPrefix, NewPrefix)
// must be before clean removes it: state.New makes it, writes the record
// into it, and renames it to the container's id.
const staleAge = time.Minute

// Where in the state directory the steps make things. Only mounts inside
// these are clean's to detach: the state directory may be anything the
// student passed to --state-dir, and whatever else is mounted in it is not
// workshop's.
var (
	containersArea = "containers"
	imagesArea     = "images"
	stepRoots      = []struct{ rel, what string }{
		{"step1", "step 1's empty root"},
		{"my-new-root", "the root of steps 2 to 4"},
		{"step5", "step 5's tar and the root unpacked from it"},
	}
)

// Clean removes what workshop made under o.StateDir, and the cgroups it left.
// It does not stop at the first failure: everything it can remove, it
// removes, and it reports each failure.
func Clean(n *sys.Narrator, o CleanOptions) CleanResult {
	c := &cleaner{n: n, out: o.Out, errOut: o.Err, interrupt: o.Interrupt}
	if c.out == nil {
		c.out = io.Discard
	}
	if c.errOut == nil {
		c.errOut = io.Discard
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		c.fail("the state directory "+o.StateDir, err)
		return c.res
	}
	// The kernel names mount points by their real path.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	c.state = dir
	_, err = os.Stat(dir)
	exists := err == nil

	recorded := map[string]bool{}
	if exists {
		release, err := c.lockOutOtherCleans()
		if err != nil {
			c.res.Stopped = err
			return c.res
		}
		defer release()
		runs, err := state.List(dir)
		if err != nil {
			c.fail("the records in "+state.ContainersDir(dir), err)
		}
		for _, r := range runs {
			if c.interrupted() {
				return c.res
			}
			recorded[r.ID] = true
			c.run(r)
		}
		for _, step := range []func(){c.leftoverMounts, func() { c.unrecordedDirs(recorded) }} {
			if c.interrupted() {
				return c.res
			}
			step()
		}
	}
	steps := []func(){func() { c.orphanCgroups(recorded) }, c.doctorLeftovers}
	if exists {
		steps = append(steps, c.pendingPaths, c.stepRoots)
		if o.Images {
			steps = append(steps, c.imageStore)
		} else {
			steps = append(steps, c.imageLeftovers)
		}
		steps = append(steps, func() { c.removeContainersDir(state.ContainersDir(dir)) })
	}
	for _, step := range steps {
		if c.interrupted() {
			return c.res
		}
		step()
	}
	if c.res.Removed == 0 && len(c.res.Failed) == 0 {
		// After "left …" lines, "nothing to remove" read as if those
		// had not been found.
		nothing := "nothing to remove"
		if c.res.Left > 0 {
			nothing = "nothing else to remove"
		}
		if exists {
			fmt.Fprintf(c.out, "%s in %s\n", nothing, dir)
		} else {
			fmt.Fprintf(c.out, "%s: %s does not exist\n", nothing, dir)
		}
	}
	// One that came during the last removal, after the last look: said,
	// not swallowed with exit 0. One the kernel has handed to workshop
	// may still be on its way to the channel: flushed there first.
	exit.Flush()
	select {
	case s := <-c.interrupt:
		sig, _ := s.(unix.Signal)
		c.res.Stopped = exit.Errorf(exit.SignalBase+int(sig), "clean interrupted by %s as it ended: everything it said it removed is removed", sys.SignalName(sig))
	default:
	}
	return c.res
}

// doctorLeftovers removes the directories of doctor's mount probe that a
// doctor killed halfway left, in the state dir or, before it exists, in
// its nearest existing parent (doctor.ScratchDir). The probe's mounts
// were in a mount namespace of its own, gone with it: plain directories.
func (c *cleaner) doctorLeftovers() {
	for _, p := range doctor.StaleScratch(doctor.ScratchDir(c.state)) {
		if err := c.n.RemoveTree(p); err != nil {
			c.fail(p, err)
			continue
		}
		c.removed("%s (left by a workshop doctor that was killed)", p)
	}
	// Lab 5's check unpacks the student's archive in the state dir, or in
	// the system's temporary directory (lab's scratchParent).
	stale, young := doctor.ByPid(c.state, state.LabScratchPrefix)
	if tmp := os.TempDir(); tmp != c.state {
		s, y := doctor.ByPid(tmp, state.LabScratchPrefix)
		stale, young = append(stale, s...), append(young, y...)
	}
	for _, p := range stale {
		if err := c.n.RemoveTree(p); err != nil {
			c.fail(p, err)
			continue
		}
		c.removed("%s (left by a workshop lab 5 check that was killed)", p)
	}
	for _, p := range young {
		c.left(p, "a lab 5 check's copy of an archive, whose check is gone, but made less than a minute ago: a check in another PID namespace may be using it; run clean again in a minute to remove it")
	}
}

// pendingPaths removes what an `image unpack` or `image export` killed
// halfway left beside its DIR or FILE, and what a copy of step 2 killed
// halfway left in a root, wherever that was: the temporary directory or
// file it recorded under the state dir as it made it
// (state.TrackPending), named as only those commands name them
// (.DIR.unpack-RANDOM, .FILE.export-RANDOM, .NAME.workshop-copy: the last,
// a name the next copy uses again, only under the root's lock).
// RemoveTree never follows a symlink; a symlink at the name is removed
// itself.
func (c *cleaner) pendingPaths() {
	for _, s := range state.StalePending(c.state) {
		if !c.removePending(s) {
			continue // its record stays, for a later clean
		}
		if err := s.Forget(); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.fail("the record of "+s.Path, err)
		}
	}
	// An unpack, export or copy starting now makes it again (TrackPending).
	c.rmdirIfEmpty(state.PendingDir(c.state))
}

// removePending removes the path of a stale record, if it is one only
// those commands name and is still there; done is false when it is left
// (a copy under way at its name, or a removal that failed).
func (c *cleaner) removePending(s state.StalePath) (done bool) {
	what := ""
	switch {
	case s.Path == "":
	case imagetar.IsTempBeside(s.Path):
		what = "what an image unpack or export killed halfway left beside its destination"
	case lddcopy.IsHalfCopy(s.Path) && s.Lock != "":
		what = "what a copy of step 2 killed halfway left in a root"
	}
	if what == "" {
		return true
	}
	if _, err := os.Lstat(s.Path); err != nil {
		return true // gone already
	}
	unlock, busy := c.lockWriters(s.Lock)
	if busy {
		// A copy into that root now writes at the same name.
		c.left(s.Path, "a copy into "+s.Lock+" is under way, at that name; run clean again once it is done")
		return false
	}
	err := c.n.RemoveTree(s.Path)
	unlock()
	if err != nil {
		c.fail(s.Path, err)
		return false
	}
	c.removed("%s (%s)", s.Path, what)
	return true
}

// lockWriters takes, without waiting, the lock a writer of a pending path
// holds while it works (dir's flock: the root step 2 fills, whose half
// copies have a name the next copy uses again), so that none starts while
// clean removes what a killed one left; busy when one holds it now. No
// dir, or one gone: nothing to take.
func (c *cleaner) lockWriters(dir string) (unlock func(), busy bool) {
	if dir == "" {
		return func() {}, false
	}
	fd, err := c.n.Openat(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}, false
	}
	if err := c.n.Because("the root's lock, which a copy into it holds (LOCK_NB: a copy under way is left alone)").Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		c.n.CloseFd(fd)
		return func() {}, errors.Is(err, unix.EWOULDBLOCK)
	}
	return func() { c.n.CloseFd(fd) }, false // closing it releases the lock
}

// lockOutOtherCleans takes a lock on the state directory itself, which
// only clean takes: two cleans at once would both undo the same killed
// run, and the second would fail on what the first removed. It waits for
// another clean to finish (a clean takes moments), interruptibly.
func (c *cleaner) lockOutOtherCleans() (release func(), err error) {
	fd, err := c.n.Openat(c.state, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, exit.Errorf(exit.ToolFailed, "open the state directory %s: %v", c.state, err)
	}
	err = c.n.Because("one clean at a time in this state directory (LOCK_NB: fail at once instead of waiting)").Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		var tries int
		tries, err = flock.Wait(fd, unix.LOCK_EX, "another clean of "+c.state, "nothing was removed", func() {
			c.n.Note("another workshop clean is cleaning %s: waiting for it to finish; Ctrl-C stops waiting", c.state)
		})
		if err == nil {
			c.n.Note("the other clean finished: the lock was taken after %s, not shown", units.Count(tries, fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) call", fd), fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) calls", fd)))
		}
	}
	if err != nil {
		c.n.CloseFd(fd)
		var coded *exit.Error
		if errors.As(err, &coded) {
			return nil, err
		}
		return nil, exit.Errorf(exit.ToolFailed, "lock the state directory %s: %v", c.state, err)
	}
	return func() { c.n.CloseFd(fd) }, nil // closing it releases the lock
}

type cleaner struct {
	n           *sys.Narrator
	out, errOut io.Writer
	state       string // the state directory, absolute, symlinks resolved
	res         CleanResult
	interrupt   <-chan os.Signal
}

// interrupted reports whether a stop signal came (CleanOptions.Interrupt),
// and then sets res.Stopped: looked at between two things removed.
func (c *cleaner) interrupted() bool {
	if c.res.Stopped != nil {
		return true
	}
	select {
	case s := <-c.interrupt:
		sig, _ := s.(unix.Signal)
		c.res.Stopped = exit.Errorf(exit.SignalBase+int(sig), "clean interrupted by %s: it stopped after the last thing it said it removed; 'workshop clean' again removes the rest", sys.SignalName(sig))
		return true
	default:
		return false
	}
}

func (c *cleaner) removed(format string, args ...any) {
	c.res.Removed++
	fmt.Fprintln(c.out, sys.OneLine(fmt.Sprintf("removed "+format, args...)))
}

func (c *cleaner) left(what, why string) {
	c.res.Left++
	fmt.Fprintln(c.out, sys.OneLine(fmt.Sprintf("left %s: %s", what, why)))
}

func (c *cleaner) fail(what string, err error) {
	err = fmt.Errorf("could not remove %s: %w", what, err)
	c.res.Failed = append(c.res.Failed, err)
	fmt.Fprintln(c.errOut, sys.OneLine(hint.Rewrite(err.Error())))
}

// lockOutlivesWait is how long clean waits for the child of a dead
// workshop to let go of its run's lock (state.Run.LockOutlivesWorkshop):
// the child's execve, or its end, which takes a millisecond on an idle
// machine.
const lockOutlivesWait = 2 * time.Second

// awaitLockReleased waits, up to lockOutlivesWait, for nobody to hold the
// lock of r, whose workshop is dead: a workshop killed as it started the
// container leaves its child holding a copy until the child's execve. It
// reports whether nobody holds it; a stop signal ends the wait.
func (c *cleaner) awaitLockReleased(r *state.Run) bool {
	start, looks := time.Now(), 0
	holders, forked := lockHolders(r)
	for deadline := start.Add(lockOutlivesWait); r.LockOutlivesWorkshop(); time.Sleep(5 * time.Millisecond) {
		looks++
		if time.Now().After(deadline) || c.interrupted() {
			return false
		}
	}
	if looks > 0 {
		// Bookkeeping, as state's calls are, but a pause to explain.
		c.n.Note("the workshop of container %s (pid %d) is dead, and %s still held the run's lock, %s: "+
			"clean waited %s for it to let go (%d looks, each an open, a flock and a close of %s, not shown)",
			r.ID, r.WorkshopPid, holders, whyHeld(forked), time.Since(start).Round(time.Millisecond), looks, r.Dir())
	}
	return true
}

// lockHolders names the processes that have r's directory open, its
// lock's holder among them: "pid N (name)", or "a process" where none can
// be seen (in a PID namespace of its own). forked reports whether each
// runs workshop's program, as the child a workshop forks does until its
// execve; a holder that does not was given the lock, or took it by hand.
func lockHolders(r *state.Run) (who string, forked bool) {
	var names []string
	forked = true
	for _, pid := range state.Opening(r.Dir()) {
		name, _ := state.StatusField(pid, "Name")
		names = append(names, fmt.Sprintf("pid %d (%s)", pid, name))
		forked = forked && state.RunsThisProgram(pid)
	}
	if len(names) == 0 {
		return "a process", true
	}
	return strings.Join(names, ", "), forked
}

// whyHeld says why a dead workshop's lock is held, from lockHolders.
func whyHeld(forked bool) string {
	if forked {
		return "as a process the workshop forked does until its execve"
	}
	return "though not workshop's program (a process the workshop forks holds it only until its execve): one given the lock, or that took it with flock(1)"
}

// run undoes one recorded run whose workshop process is gone.
func (c *cleaner) run(r *state.Run) {
	what := fmt.Sprintf("container %s (step %d)", r.ID, r.Step)
	if r.Name != "" && r.Name != r.ID {
		what = fmt.Sprintf("container %s (%s, step %d)", r.ID, r.Name, r.Step)
	}
	if r.Owned() && r.OtherPIDNamespace() {
		c.left(what, fmt.Sprintf("in use by a workshop in another PID namespace (%s; pid %d there)", r.WorkshopPidNS, r.WorkshopPid))
		return
	}
	if r.LockOutlivesWorkshop() && !c.awaitLockReleased(r) {
		if c.res.Stopped == nil {
			holders, forked := lockHolders(r)
			c.left(what, fmt.Sprintf("its workshop (pid %d) is dead, but %s still holds the run's lock, %s later, %s; "+
				"'workshop clean' again removes the container once nobody holds it", r.WorkshopPid, holders, lockOutlivesWait, whyHeld(forked)))
		}
		return
	}
	if r.Owned() {
		c.left(what, fmt.Sprintf("in use by workshop pid %d", r.WorkshopPid))
		return
	}
	if !r.Recorded() {
		return // its workshop ended it, and forgot it, after the list was read
	}
	kept := r.EndedWithLayerKept()
	if kept {
		// Ended by itself, its layer kept on purpose: no crash to undo.
		c.n.Note("%s: it ended, and its writable layer was kept (--keep) for diff: removing it", what)
	} else {
		c.n.Note("%s: its workshop process %d is gone, so nobody will undo what it made", what, r.WorkshopPid)
	}
	var did []string

	// Its cgroup is found by its id, not only by the record: a run killed
	// between making the group and saving its paths has one too.
	cg, openErr := cgroups.Open(r.ID)
	if openErr != nil {
		cg = nil
		for _, p := range r.Cgroups {
			if _, err := os.Stat(p); err == nil {
				c.fail(what, fmt.Errorf("its cgroup %s is there but cannot be opened: %v", p, openErr))
				return
			}
		}
	}
	if cg != nil {
		cg = cg.With(c.n)
		// Its processes die with workshop (PR_SET_PDEATHSIG), but without a
		// PID namespace their children do not.
		if pids, _ := cg.Procs(); len(pids) > 0 {
			c.n.Note("%s of %s still in its cgroup: killing them", plural(len(pids), "process"), what)
			if err := cg.Kill(); err != nil {
				c.fail(what, fmt.Errorf("kill the processes in its cgroup: %w", err))
				return
			}
			did = append(did, "killed "+plural(len(pids), "process"))
		}
	}

	dirs := []string{r.Dir()}
	for _, m := range r.Mounts {
		switch {
		case within(m, r.Dir()):
		case within(m, c.state):
			dirs = append(dirs, m)
		case sameFile(filepath.Dir(m), r.Dir()):
			// The run reached this state dir by another path (a bind
			// mount of it): its overlay hangs there, not under the
			// path clean took. It must go before the layer under it.
			dirs = append(dirs, m)
		}
	}
	count := 0
	for _, d := range dirs {
		k, err := c.unmountUnder(d, nil, nil)
		count += k
		if err != nil {
			c.fail(what, err)
			return
		}
	}
	if count > 0 {
		did = append(did, "unmounted "+plural(count, "mount"))
	}

	if cg != nil {
		if err := cg.Remove(); err != nil {
			c.fail(what, err)
			return
		}
		did = append(did, "its cgroup ("+plural(len(cg.Paths()), "directory")+")")
	}

	for _, d := range r.Dirs {
		switch {
		case within(d, r.Dir()):
			// removed with the record, below
		case !within(d, c.state):
			c.n.Note("the record of %s names %s, outside %s: clean never removes anything there", what, d, c.state)
		default:
			if err := c.n.RemoveTree(d); err != nil {
				c.fail(what, err)
				return
			}
			did = append(did, d)
		}
	}
	layer := ""
	if r.Upper != "" {
		if _, err := os.Lstat(r.Upper); err == nil {
			layer = "its writable layer, "
		}
	}
	// The record goes last, with the directory that holds it: until then a
	// later clean can retry whatever failed. The directory is renamed
	// first, in one step, so that a clean killed during the removal
	// leaves no directory named by the id without its record (which would
	// look like a run being recorded), only a .gone- one.
	if err := c.n.Because("out of the way first, in one step: whenever the removal stops, the id names a whole record or none").
		Rename(r.Dir(), r.GoneDir()); err != nil {
		c.fail(what, err)
		return
	}
	if err := c.n.RemoveTree(r.GoneDir()); err != nil {
		// No record any more, only a .gone- directory, which the sweep of
		// unrecorded directories below tries once more, and reports if
		// it fails again: a failure here alone would fail a clean that
		// leaves nothing.
		c.n.Note("%s could not be removed yet (%v): tried once more below", r.GoneDir(), err)
	}
	did = append(did, layer+"its record "+r.Dir())
	if kept {
		c.removed("%s, which ended with its layer kept (--keep): %s", what, strings.Join(did, ", "))
		return
	}
	c.removed("%s, whose workshop pid %d is gone: %s", what, r.WorkshopPid, strings.Join(did, ", "))
}

// sameFile reports whether paths a and b name the same file (its device
// and inode), whatever the paths they were reached by.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// unmountUnder detaches every mount at dir or below it, innermost first,
// except those skip says to keep, and calls detached (if not nil) after
// each. It returns how many it detached.
func (c *cleaner) unmountUnder(dir string, skip func(mountopt.Entry) bool, detached func(mountopt.Entry)) (int, error) {
	// pending reads the table again: the mounts under dir not to be skipped.
	pending := func() ([]mountopt.Entry, error) {
		all, err := mountopt.ReadSelf()
		if err != nil {
			return nil, err
		}
		var todo []mountopt.Entry
		for _, m := range mountsUnder(all, dir) {
			if skip == nil || !skip(m) {
				todo = append(todo, m)
			}
		}
		return todo, nil
	}
	done := 0
	// Detaching a mount can reveal another that was stacked under it, or
	// one that propagation brought in: read the table again until nothing
	// is left, a few rounds at most.
	for round := 0; round < 5; round++ {
		todo, err := pending()
		if err != nil {
			return done, err
		}
		if len(todo) == 0 {
			return done, nil
		}
		progress := false
		for _, m := range todo {
			// MNT_DETACH: gone from the tree at once, even if a process
			// still has a file open in it; the kernel frees it afterwards.
			err := c.n.Because("detach it from the tree now, even if a file in it is still open").Unmount(m.Point, unix.MNT_DETACH)
			switch {
			case err == nil:
				done++
				progress = true
				if detached != nil {
					detached(m)
				}
			case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
				// No longer a mount point, or hidden under one stacked on
				// top: detached with its parent, or in the next round.
			default:
				return done, fmt.Errorf("unmount %s (%s): %w", m.Point, m.FSType, err)
			}
		}
		if !progress {
			break
		}
	}
	todo, err := pending()
	if err != nil {
		return done, err
	}
	if len(todo) > 0 {
		return done, fmt.Errorf("%s is still mounted after unmounting it", todo[0].Point)
	}
	return done, nil
}

// leftoverMounts detaches what is still mounted where the steps make
// things, except in the directory of a run still in use.
func (c *cleaner) leftoverMounts() {
	areas := []string{containersArea, imagesArea}
	for _, r := range stepRoots {
		areas = append(areas, r.rel)
	}
	for _, a := range areas {
		dir := filepath.Join(c.state, a)
		_, err := c.unmountUnder(dir, c.inUse, func(m mountopt.Entry) {
			c.removed("the mount %s (%s, left over)", m.Point, m.FSType)
		})
		if err != nil {
			c.fail("the mounts under "+dir, err)
		}
	}
}

// inUse says whether a mount belongs to a run whose workshop process
// lives. The record is read again now: a run may have started since.
func (c *cleaner) inUse(m mountopt.Entry) bool {
	rel, err := filepath.Rel(state.ContainersDir(c.state), m.Point)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	id := strings.SplitN(rel, "/", 2)[0]
	runs, _ := state.List(c.state)
	for _, r := range runs {
		if r.ID == id {
			return r.Owned()
		}
	}
	return false
}

// unrecordedDirs removes container directories that hold no record: a
// run's directory that a run or a clean was killed while removing
// (state.GonePrefix; not while a live workshop removes it), one a run was
// killed while making (state.MakingPrefix: at once, its maker named and
// dead, never while its maker lives, after a minute where its maker cannot
// be looked at; state.NewPrefix, an older workshop's: at once if it was killed as
// it wrote the record, otherwise after a minute: it may be being made now),
// and a directory named by an id with no record in it (made by an older
// workshop, which wrote the record into the directory after making it).
func (c *cleaner) unrecordedDirs(recorded map[string]bool) {
	dir := state.ContainersDir(c.state)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if recorded[e.Name()] || !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(e.Name(), state.GonePrefix):
			if !state.Abandoned(p, false) {
				continue // its run's workshop removing it now, or done
			}
		case strings.HasPrefix(e.Name(), state.MakingPrefix):
			// Its name names the workshop making it (state.New): one
			// killed between its mkdir and its lock is told from one
			// about to lock it, and removed at once.
			if !state.Abandoned(p, false) {
				continue // held: a run recording its container now
			}
			switch state.MakerOf(e.Name()) {
			case state.MakerGone:
			case state.MakerAlive:
				// About to lock it, however long that takes (a
				// workshop stopped, or traced, between the two): left,
				// at any age, and removed once its maker is dead.
				c.left(p, "a container directory being made by a workshop that runs: clean removes it once that workshop has ended without it")
				continue
			default:
				// Its maker lives in another PID namespace, where its
				// pid cannot be looked at: said, not removed, for a
				// minute.
				if age := time.Since(info.ModTime()); age < staleAge {
					c.left(p, fmt.Sprintf("a container directory being made (%s old): a run may be recording its container now; clean removes it once it is %s old", age.Truncate(time.Second), staleAge))
					continue
				}
			}
		case strings.HasPrefix(e.Name(), state.NewPrefix):
			if state.Abandoned(p, true) {
				break // its workshop killed as it wrote the record: removed at once
			}
			if age := time.Since(info.ModTime()); age < staleAge {
				// A run recording its container right now, or one killed
				// while it did: not told apart yet, so said, not removed.
				c.left(p, fmt.Sprintf("a container directory being made (%s old): a run may be recording its container now; clean removes it once it is %s old", age.Truncate(time.Second), staleAge))
				continue
			}
		default:
			if data, err := os.ReadFile(filepath.Join(p, "state.json")); err == nil {
				// A record List did not read: damaged (by hand, a full
				// disk), and its container may still run, its layer
				// mounted; or written since. Not clean's to judge, so
				// said, not removed.
				if uerr := json.Unmarshal(data, &state.Run{}); uerr != nil {
					c.left(p, fmt.Sprintf("a container directory whose record is unreadable (%v): clean cannot tell whether its container runs; look at it, and remove it by hand (rm -r) once nothing runs from it", uerr))
				} else {
					c.left(p, "a container directory whose record was written as clean read the others: run clean again")
				}
				continue
			}
		}
		if err := c.n.RemoveTree(p); err != nil {
			c.fail(p, err)
			continue
		}
		c.removed("%s (a container directory with no record in it)", p)
	}
}

// orphanCgroups removes the cgroups under workshop/ that no run of this
// state directory records, when they are empty and old, and no workshop
// that lives runs them: groups with processes in them belong to running
// containers (another state directory's, another test's) and are never
// touched, nor is the empty group of a container that just ended, whose
// workshop, in another state directory, is about to read and remove it.
func (c *cleaner) orphanCgroups(recorded map[string]bool) {
	ids, err := cgroups.List()
	if err != nil {
		c.n.Note("cannot look for workshop's cgroups: %v", err)
		return
	}
	var live map[string]string
	for _, id := range ids {
		if recorded[id] {
			continue // done with its run, or left with it
		}
		if live == nil {
			if live, err = state.LiveRunIDs(); err != nil {
				c.left("the cgroups under "+cgroups.Parent+"/ that no container of "+c.state+" records", fmt.Sprintf("without /proc/locks (%v), a live run of another state directory cannot be told from a killed one", err))
				return
			}
		}
		cg, err := cgroups.Open(id)
		if err != nil {
			continue // removed since we listed it
		}
		what := "cgroup " + cgroups.Parent + "/" + id
		pids, err := cg.Procs()
		if err != nil {
			continue
		}
		if len(pids) > 0 {
			if _, err := os.Lstat(filepath.Join(state.ContainersDir(c.state), id)); err == nil {
				continue // a run that began after the records were read
			}
			c.left(what, fmt.Sprintf("%s in it and no container of %s records it (another state directory's, or a run that is starting)", plural(len(pids), "process"), c.state))
			continue
		}
		if dir, ok := live[id]; ok {
			c.left(what, fmt.Sprintf("empty, and the workshop of its run (%s) lives: it removes the group itself", dir))
			continue
		}
		age := youngest(cg.Paths())
		if age < orphanAge {
			c.left(what, fmt.Sprintf("empty and recorded by no container of %s (another state directory's, or one starting), but its directory's time is only %s ago: a container may be starting in it; run clean again in a minute to remove it", c.state, age.Truncate(time.Second)))
			continue
		}
		if err := cg.With(c.n).Remove(); err != nil {
			c.fail(what, err)
			continue
		}
		c.removed("%s (empty, its directory's time %s ago, recorded by no container here)", what, age.Round(time.Second))
	}
	c.emptyParents()
}

// youngest is the age of the youngest of dirs by their modification time.
// A cgroup directory's time is when the kernel made it, or later: cgroupfs
// sets it when the directory's inode is first looked up after the mkdir,
// and again when a group is made or removed inside it (once its times were
// ever set). So a group is never taken for older than it is; an old one
// may look young for a minute.
func youngest(dirs []string) time.Duration {
	age := time.Duration(1<<63 - 1)
	for _, d := range dirs {
		info, err := os.Stat(d)
		if err != nil {
			continue
		}
		if a := time.Since(info.ModTime()); a < age {
			age = a
		}
	}
	return age
}

// emptyParents removes the workshop/ parent groups that hold no group any
// more, as a run's own cgroup removal does, once no group was made or
// removed in them for orphanAge (the kernel updates a directory's
// modification time when a group is made or removed in it): a container
// being made at this moment may have just made its parent.
//
// Only the parents of the hierarchies workshop uses: a workshop/ group in
// another one (blkio, name=systemd) or deeper in a v2 tree is someone
// else's.
func (c *cleaner) emptyParents() {
	parents, err := cgroups.Parents()
	if err != nil {
		return // List, just before, said why
	}
	// Each once, by its real path: co-mounted controllers share one
	// (cgroups.Parents).
	for _, p := range parents {
		if hasSubdir(p) || youngest([]string{p}) < orphanAge {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err != nil || len(strings.TrimSpace(string(b))) > 0 {
			continue
		}
		if err := c.n.Because("the parent group workshop made, now empty").Rmdir(p); err == nil {
			c.removed("the empty parent cgroup %s", p)
		}
	}
}

func hasSubdir(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.IsDir() {
			return true
		}
	}
	return false
}

// stepRoots removes the roots the steps made, unless a step is running:
// each running step holds the steps lock (state.HoldSteps) shared.
func (c *cleaner) stepRoots() {
	var there []string
	for _, root := range stepRoots {
		if _, err := os.Lstat(filepath.Join(c.state, root.rel)); err == nil {
			there = append(there, root.rel)
		}
	}
	lock := filepath.Join(c.state, state.StepsLockName)
	_, lerr := os.Lstat(lock)
	_, serr := os.Lstat(state.StragglersDir(c.state))
	if len(there) == 0 && lerr != nil && serr != nil {
		return
	}
	fd, err := c.n.Openat(lock, unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		c.fail("the steps' roots", err)
		return
	}
	defer c.n.CloseFd(fd) // closing it releases the lock
	if err := c.n.Because("no step may be making or using its root meanwhile").Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			c.fail("the steps' roots", err)
			return
		}
		for _, root := range stepRoots {
			if slices.Contains(there, root.rel) {
				c.left(filepath.Join(c.state, root.rel)+" ("+root.what+")", "a workshop step is running (it holds "+lock+")")
			}
		}
		return
	}
	c.stepStragglers()
	for _, root := range stepRoots {
		if slices.Contains(there, root.rel) {
			c.stepRoot(filepath.Join(c.state, root.rel), root.what)
		}
	}
	// The lock file too, held: a step waiting on it finds it gone once
	// it has the lock, and makes it anew (state.HoldSteps).
	if err := c.n.Because("the steps' lock file: no step runs, and the next one makes it anew").Unlink(lock); err != nil {
		c.fail(lock, err)
	}
}

// stepStragglers kills what the command of a step 3 or 5 container with no
// PID namespace left running when its workshop was killed with SIGKILL,
// which would have killed it at the command's end, as a PID namespace's
// end does: the processes in every namespace of its container that run
// chrooted in its root (state.Stragglers, stragglersOf). No step runs (the
// caller holds the steps lock): every marker is a killed step's.
func (c *cleaner) stepStragglers() {
	for _, s := range state.StaleStragglers(c.state) {
		what := fmt.Sprintf("the marker %s of a killed step's container", s.Path())
		if len(s.Own) == 0 {
			// A plain chroot, or a marker that cannot be read: nothing
			// tells its processes from one chrooted there by hand.
			if err := c.n.Because("nothing marks the killed step's processes apart").Unlink(s.Path()); err != nil && !errors.Is(err, unix.ENOENT) {
				c.fail(what, err)
				continue
			}
			c.removed("%s (it names no namespace the container had of its own: what it left running, if anything, cannot be told from a program chrooted in %s by hand)", what, s.Root)
			continue
		}
		// Killed, then looked for again until none is found: one may fork
		// between the look and its kill.
		killed := map[int]bool{}
		var left []int
		for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
			left = stragglersOf(s)
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			for _, pid := range left {
				if !killed[pid] {
					c.n.Because("left running by a killed step's command, chrooted in its root").Kill(pid, unix.SIGKILL)
					killed[pid] = true
				}
			}
		}
		if len(left) > 0 {
			c.left(what, fmt.Sprintf("%s it marks still there a second after SIGKILL (pid %v)", plural(len(left), "process"), left))
			continue
		}
		if err := c.n.Because("what the killed step's command left is gone").Unlink(s.Path()); err != nil && !errors.Is(err, unix.ENOENT) {
			c.fail(what, err)
			continue
		}
		if len(killed) > 0 {
			c.removed("%s, after killing %s its command left running, chrooted in %s", what, plural(len(killed), "process"), s.Root)
		} else {
			c.removed("%s (nothing it marks runs any more)", what)
		}
	}
	c.rmdirIfEmpty(state.StragglersDir(c.state))
}

// stragglersOf lists the living processes in every namespace s's
// container was in (Stragglers.Namespaces), chrooted in its root, or in
// any directory if the root was removed by hand since: its processes run on
// in the removed one.
func stragglersOf(s state.Stragglers) []int {
	var st unix.Stat_t
	rootGone := unix.Stat(s.Root, &st) != nil
	all, _ := state.Pids()
	var pids []int
	for _, pid := range all {
		if pid == os.Getpid() {
			continue
		}
		if p, ok := state.Stat(pid); !ok || p.Ended() {
			continue
		}
		if !rootGone && !linkIn(fmt.Sprintf("/proc/%d/root", pid), s.Root, st) {
			continue
		}
		if inNamespaces(pid, s.Namespaces) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// inNamespaces reports whether process pid is in every one of ns (by name,
// as /proc/PID/ns names them), which names at least one.
func inNamespaces(pid int, ns map[string]string) bool {
	for name, id := range ns {
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name)); got != id {
			return false
		}
	}
	return len(ns) > 0
}

// stepRoot removes a root a step made, never through a mount and never
// under a process that runs in it.
func (c *cleaner) stepRoot(dir, what string) {
	if _, err := os.Lstat(dir); err != nil {
		return
	}
	all, err := mountopt.ReadSelf()
	if err != nil {
		c.fail(dir, err)
		return
	}
	if ms := mountsUnder(all, dir); len(ms) > 0 {
		c.fail(dir+" ("+what+")", fmt.Errorf("%s is still mounted there; unmount it (umount -l %s) and run 'workshop clean' again", ms[0].Point, hint.Quote(ms[0].Point)))
		return
	}
	if users := usersOf(dir); len(users) > 0 {
		c.left(dir+" ("+what+")", "in use by "+strings.Join(users, ", ")+" (a container of a step still running in it?)")
		return
	}
	if err := c.n.RemoveTree(dir); err != nil {
		c.fail(dir, err)
		return
	}
	c.removed("%s (%s)", dir, what)
}

// usersOf names the processes whose root or working directory is dir or
// inside it: a step 3 container chrooted there, a shell cd'ed into it.
func usersOf(dir string) []string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil
	}
	all, _ := state.Pids()
	var users []string
	for _, pid := range all {
		if pid == os.Getpid() {
			continue
		}
		if linkIn(fmt.Sprintf("/proc/%d/root", pid), dir, st) || linkIn(fmt.Sprintf("/proc/%d/cwd", pid), dir, st) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			users = append(users, fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm))))
		}
	}
	return users
}

// linkIn reports whether the /proc link p (a process's root or working
// directory) is dir, whose stat is st, or inside it.
func linkIn(p, dir string, st unix.Stat_t) bool {
	if target, err := os.Readlink(p); err == nil && within(target, dir) {
		return true
	}
	// A root reached through another mount namespace may read as "/":
	// compare the directory itself.
	var ps unix.Stat_t
	return unix.Stat(p, &ps) == nil && ps.Dev == st.Dev && ps.Ino == st.Ino
}

// storeLock takes the image store's lock exclusively, as every store
// command that changes it does, without waiting: while another workshop
// command holds it, its temporary directories are not stale. It returns
// the release, or ok false when the store is busy.
func (c *cleaner) storeLock(dir string) (release func(), ok bool) {
	fd, err := c.n.Openat(filepath.Join(dir, imagetar.LockName), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return func() {}, true // no store command ever ran here
	}
	if err != nil {
		c.fail("the image store's leftovers", err)
		return nil, false
	}
	if err := c.n.Because("no other workshop command may change the store meanwhile").Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		c.n.CloseFd(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			c.left("the image store "+dir, "in use by another workshop command (it holds the store's lock)")
		} else {
			c.fail("the image store's leftovers", err)
		}
		return nil, false
	}
	return func() { c.n.CloseFd(fd) }, true // closing it releases the lock
}

// imageLeftovers removes what an image addition or unpack killed halfway
// left in the store: .new-* directories, .NAME.unpack-* directories and
// half-written .tmp files; and the images no name points to any more, once
// no container uses them. The named images stay.
func (c *cleaner) imageLeftovers() {
	dir := filepath.Join(c.state, imagesArea)
	if _, err := os.Stat(dir); err != nil {
		return
	}
	stale := imagetar.IsLeftover
	var found []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if stale(e.Name()) {
			found = append(found, filepath.Join(dir, e.Name()))
			continue
		}
		if e.IsDir() {
			inner, _ := os.ReadDir(filepath.Join(dir, e.Name()))
			for _, f := range inner {
				if stale(f.Name()) {
					found = append(found, filepath.Join(dir, e.Name(), f.Name()))
				}
			}
		}
	}
	store := imagetar.OpenStore(c.state)
	if len(found) == 0 && len(store.Unused()) == 0 {
		return
	}
	release, ok := c.storeLock(dir)
	if !ok {
		return
	}
	defer release()
	for _, p := range found {
		if err := c.n.RemoveTree(p); err != nil {
			c.fail(p, err)
			continue
		}
		c.removed("%s (left by an image addition that did not finish)", p)
	}
	// An image whose name moved, or was removed, while a container ran
	// from it: kept then, removed now that no container uses it.
	ids, errs := store.CollectLocked(c.n)
	for _, err := range errs {
		c.fail("an image no name points to", err)
	}
	for _, id := range ids {
		c.removed("image %s of %s (<none>: no name pointed to it, and no container used it)", id[:12], dir)
	}
}

// imageStore removes the whole image store (clean --images), unless a
// running container's root is one of its images.
func (c *cleaner) imageStore() {
	dir := filepath.Join(c.state, imagesArea)
	if _, err := os.Lstat(dir); err != nil {
		return
	}
	// The lock first, then the records: a run holds the lock (shared)
	// from finding its image until its record names it.
	release, ok := c.storeLock(dir)
	if !ok {
		return
	}
	defer release()
	runs, _ := state.List(c.state)
	for _, r := range runs {
		if r.Owned() && r.Lower != "" && within(r.Lower, dir) {
			c.left("the image store "+dir, fmt.Sprintf("container %s (workshop pid %d) runs from one of its images", r.ID, r.WorkshopPid))
			return
		}
	}
	all, err := mountopt.ReadSelf()
	if err != nil {
		c.fail(dir, err)
		return
	}
	if ms := mountsUnder(all, dir); len(ms) > 0 {
		c.fail("the image store "+dir, fmt.Errorf("%s is still mounted there", ms[0].Point))
		return
	}
	// What the lock keeps the same until it is released.
	entries, err := os.ReadDir(dir)
	if err != nil {
		c.fail("the image store "+dir, err)
		return
	}
	images, others := 0, 0
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 && !strings.HasPrefix(e.Name(), ".") {
			images++
		}
		if e.Name() != imagetar.LockName {
			others++
		}
	}
	if others == 0 {
		return // the lock alone, which stays: what a clean --images left
	}
	// The index goes first: should the removal stop half-way, the store
	// left names no image it lost, and works (empty) until the next
	// clean --images removes the rest.
	if err := c.n.Unlink(filepath.Join(dir, imagetar.IndexName)); err != nil && !errors.Is(err, unix.ENOENT) {
		c.fail("the image store "+dir, err)
		return
	}
	// Then everything but the lock, which stays with its directory: a
	// workshop command waiting for the lock waits on that file, and would,
	// were it removed, get a lock on a file no one else can open, while
	// newcomers lock a new one: two at once in a store each thinks is its
	// alone.
	for _, e := range entries {
		if e.Name() == imagetar.LockName || e.Name() == imagetar.IndexName {
			continue
		}
		if err := c.n.RemoveTree(filepath.Join(dir, e.Name())); err != nil {
			c.fail("the image store "+dir, err)
			return
		}
	}
	c.removed("the image store %s, with %s (--images; its lock file stays, for the commands that wait on it)", dir, plural(images, "image"))
}

// rmdirIfEmpty removes a directory clean emptied, and nothing else.
func (c *cleaner) rmdirIfEmpty(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) > 0 {
		return
	}
	if err := c.n.Rmdir(dir); err == nil {
		c.removed("%s (empty)", dir)
	}
}

// removeContainersDir removes the containers directory when it is empty,
// under the lock a run takes on it to choose its name: a run that holds it
// is recording a container there, and the directory stays. (A run that
// locks it just after finds it gone, and makes it again: lockNames.)
func (c *cleaner) removeContainersDir(dir string) {
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return
	}
	fd, err := c.n.Openat(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer c.n.CloseFd(fd)
	if err := c.n.Because("the lock a starting run takes to choose its name: held, a run is recording a container here").
		Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			c.fail(dir, err)
			return
		}
		c.left(dir, "a run is recording a container in it now")
		return
	}
	c.rmdirIfEmpty(dir)
}

// plural is "1 mount", "2 mounts", "3 processes", "2 directories".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	switch {
	case strings.HasSuffix(word, "ss"):
		word += "es"
	case strings.HasSuffix(word, "y"):
		word = strings.TrimSuffix(word, "y") + "ies"
	default:
		word += "s"
	}
	return strconv.Itoa(n) + " " + word
}
