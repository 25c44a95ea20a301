package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

// The crash tests of `workshop clean`: a workshop process killed with
// SIGKILL in the middle of a run cannot undo what it made; clean must. Each
// test has its own state directory and, however it ends, removes what it
// made: the mounts under that directory, the cgroups of the containers
// recorded there, the processes it started.

// cleanState makes a state directory for a test, swept when the test ends.
func cleanState(t *testing.T) string {
	t.Helper()
	testbin.NeedRoot(t)
	dir := t.TempDir()
	t.Cleanup(func() { sweepState(dir) })
	return dir
}

// sweepState undoes what a failed test left under a state directory.
func sweepState(dir string) {
	if all, err := mountopt.ReadSelf(); err == nil {
		for _, m := range mountsUnder(all, dir) {
			unix.Unmount(m.Point, unix.MNT_DETACH)
		}
	}
	entries, _ := os.ReadDir(state.ContainersDir(dir))
	for _, e := range entries {
		if cg, err := cgroups.Open(e.Name()); err == nil {
			cg.Kill()
			cg.Remove()
		}
	}
}

// runClean runs `workshop clean ARGS…` on the state directory.
func runClean(t *testing.T, stateDir string, args ...string) testbin.Result {
	t.Helper()
	return testbin.Run(t, "", append([]string{"--no-color", "--state-dir", stateDir, "clean"}, args...)...)
}

// bgWorkshop is a workshop process in the background, which the test kills.
type bgWorkshop struct {
	cmd    *exec.Cmd
	stderr string // a file: a pipe would keep Wait waiting for the container
}

// startWorkshop starts workshop in the background, its output in files.
func startWorkshop(t *testing.T, stateDir string, args ...string) *bgWorkshop {
	t.Helper()
	out := t.TempDir()
	stdout, err := os.Create(filepath.Join(out, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(out, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Bin(t), append([]string{"--no-color", "--state-dir", stateDir}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	stderr.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return &bgWorkshop{cmd: cmd, stderr: stderr.Name()}
}

func (b *bgWorkshop) narration() string {
	data, _ := os.ReadFile(b.stderr)
	return string(data)
}

// sigkill kills the workshop process as `kill -9` does, and collects it.
func (b *bgWorkshop) sigkill(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL workshop: %v", err)
	}
	b.cmd.Wait()
	if ws, ok := b.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("workshop ended before it was killed: %v\n%s", b.cmd.ProcessState, b.narration())
	}
}

// sigkillNoWait kills the workshop process and does not collect it: it
// stays a zombie, as a killed process does until its parent waits for it.
// The test's end collects it.
func (b *bgWorkshop) sigkillNoWait(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL workshop: %v", err)
	}
	eventually(t, "the killed workshop is a zombie", func() bool {
		st, _, _ := procStat(b.cmd.Process.Pid)
		return st == "Z"
	})
}

// liveProcess is a pid with its start time, so that a pid reused by another
// process is never taken for it.
type liveProcess struct {
	pid   int
	start string
}

// procStat is the state (field 3) and start time (field 22) of a process.
func procStat(pid int) (st, start string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", false
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}

func processOf(t *testing.T, pid int) liveProcess {
	t.Helper()
	_, start, ok := procStat(pid)
	if !ok {
		t.Fatalf("pid %d is not running", pid)
	}
	return liveProcess{pid, start}
}

// alive: not gone, not a zombie, not another process under a reused pid.
func (p liveProcess) alive() bool {
	st, start, ok := procStat(p.pid)
	return ok && st != "Z" && start == p.start
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// eventually polls cond until it holds; the deadline only keeps a broken
// run from hanging the suite.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 2 minutes: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningRecord waits until the state directory records one run whose
// container's first process has become the command, and returns it.
func runningRecord(t *testing.T, stateDir, command string, b *bgWorkshop) *state.Run {
	t.Helper()
	var rec *state.Run
	eventually(t, "a container running "+command+" is recorded in "+stateDir, func() bool {
		if b.cmd.ProcessState != nil {
			t.Fatalf("workshop ended early:\n%s", b.narration())
		}
		runs, _ := state.List(stateDir)
		for _, r := range runs {
			if r.Pid != 0 && cmdline(r.Pid) == command {
				rec = r
				return true
			}
		}
		return false
	})
	return rec
}

// cgroupDirs lists the directories of cgroup id in every v1 hierarchy and
// the v2 tree.
func cgroupDirs(id string) []string {
	var found []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + cgroups.Parent + "/" + id, "/sys/fs/cgroup/*/" + cgroups.Parent + "/" + id} {
		m, _ := filepath.Glob(pattern)
		found = append(found, m...)
	}
	return found
}

func pathExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// cleanedUp fails unless clean exited 0 having removed the container, and
// nothing of it is left: no mount under the state directory, no cgroup
// directory of its id, no process of it, no record.
func cleanedUp(t *testing.T, stateDir string, r testbin.Result, rec *state.Run, procs ...liveProcess) {
	t.Helper()
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed container "+rec.ID) {
		t.Errorf("workshop clean = exit %d; want 0 and a line on container %s\nstdout:\n%s\nstderr:\n%s", r.Code, rec.ID, r.Stdout, r.Stderr)
	}
	if m := testbin.MountsUnder(t, stateDir); len(m) > 0 {
		t.Errorf("mounts left under the state directory: %q", m)
	}
	if d := cgroupDirs(rec.ID); len(d) > 0 {
		t.Errorf("cgroup directories of %s left: %q", rec.ID, d)
	}
	for _, p := range procs {
		if p.alive() {
			t.Errorf("process %d (%s) of the container is still running", p.pid, cmdline(p.pid))
		}
	}
	if pathExists(rec.Dir()) {
		t.Errorf("the container's record %s is still there", rec.Dir())
	}
}

// nothingToRemove fails unless a second clean finds nothing more here, and
// no cgroup of the containers this test ran (own, their ids).
func nothingToRemove(t *testing.T, stateDir string, own ...string) {
	t.Helper()
	r := runClean(t, stateDir)
	if r.Code != 0 || !removedNothing(r.Stdout, "nothing to remove in "+stateDir+"\n", own) {
		t.Errorf("a second workshop clean = exit %d; want 0 and 'nothing to remove' (of this test's)\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// removedNothing reports whether clean's stdout says it removed nothing of
// this test's. Clean also removes, machine-wide, any old and empty group
// under workshop/ (an orphan) and the workshop/ parent once empty: other
// test packages, running at the same time, make and remove theirs, and
// may leave one for a moment. Lines about a group none of own names, or
// about the parent, are theirs; any other "removed" line fails. summary is
// the line clean ends with when it removed nothing at all: it must be
// there, unless clean removed one of those other groups (then it is not
// printed).
func removedNothing(stdout, summary string, own []string) bool {
	others := false
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "removed ") {
			continue
		}
		if othersCgroup(line, own) {
			others = true
			continue
		}
		return false
	}
	// After lines of what it left (another test's busy group), clean
	// says "nothing else to remove".
	return others || strings.Contains(stdout, summary) ||
		strings.Contains(stdout, strings.Replace(summary, "nothing to remove", "nothing else to remove", 1))
}

// othersCgroup reports whether a "removed" line of clean is about the
// workshop/ parent group or a group under it that none of own names.
func othersCgroup(line string, own []string) bool {
	if strings.HasPrefix(line, "removed the empty parent cgroup ") {
		return true
	}
	rest, ok := strings.CutPrefix(line, "removed cgroup "+cgroups.Parent+"/")
	if !ok {
		return false
	}
	id, _, _ := strings.Cut(rest, " ")
	return id != "" && !slices.Contains(own, id)
}

func TestRemovedNothing(t *testing.T) {
	const summary = "nothing to remove in /s\n"
	orphan := "removed cgroup workshop/0123456789ab (empty, its directory's time 2m0s ago, recorded by no container here)\n"
	parent := "removed the empty parent cgroup /sys/fs/cgroup/pids/workshop\n"
	for _, tc := range []struct {
		stdout string
		own    []string
		want   bool
	}{
		{summary, nil, true},
		{"", nil, false},
		{orphan + parent, nil, true},
		{orphan, []string{"0123456789ab"}, false},
		{orphan + "removed /s/my-new-root (the root of steps 2 to 4)\n", nil, false},
		{"left cgroup workshop/0123456789ab: 1 process in it\n" + summary, []string{"0123456789ab"}, true},
		{"left cgroup workshop/0123456789ab: 1 process in it\nnothing else to remove in /s\n", []string{"0123456789ab"}, true},
	} {
		if got := removedNothing(tc.stdout, summary, tc.own); got != tc.want {
			t.Errorf("removedNothing(%q, own %q) = %v, want %v", tc.stdout, tc.own, got, tc.want)
		}
	}
}

// SIGKILL a `workshop full run` while its container runs: its container
// dies with it (PR_SET_PDEATHSIG), but its overlay mount, its cgroup and
// its record stay, until `workshop clean`.
func TestCleanAfterFullRunKilled(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "full", "run", "--", "/bin/sleep", "300")
	rec := runningRecord(t, dir, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)
	rootfs := filepath.Join(rec.Dir(), "rootfs")
	if m := testbin.MountsUnder(t, dir); len(m) != 1 || m[0] != rootfs {
		t.Fatalf("mounts under the state directory while the container runs = %q, want the overlay on %s", m, rootfs)
	}

	b.sigkill(t)
	eventually(t, "the container's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })
	if m := testbin.MountsUnder(t, dir); len(m) != 1 || m[0] != rootfs {
		t.Errorf("after the SIGKILL, mounts = %q, want the overlay left on %s", m, rootfs)
	}
	if d := cgroupDirs(rec.ID); len(d) == 0 {
		t.Errorf("after the SIGKILL, the container's cgroup is gone already: nothing to test")
	}
	if !pathExists(filepath.Join(rec.Dir(), "state.json")) || !pathExists(filepath.Join(rec.Dir(), "upper")) {
		t.Errorf("after the SIGKILL, the record or the writable layer of %s is gone", rec.ID)
	}
	// ps lists what runs; ps -a also what a killed workshop left.
	if ps := testbin.Run(t, "", "--state-dir", dir, "ps"); ps.Code != 0 || strings.Contains(ps.Stdout, rec.ID) {
		t.Errorf("ps after the SIGKILL = exit %d, want 0 and no %s:\n%s", ps.Code, rec.ID, ps.Stdout)
	}
	psa := testbin.Run(t, "", "--state-dir", dir, "ps", "-a")
	if want := regexp.MustCompile(`(?m)^` + rec.ID + ` .* - +/bin/sleep 300 +- +- +left by a killed workshop$`); psa.Code != 0 || !want.MatchString(psa.Stdout) {
		t.Errorf("ps -a after the SIGKILL = exit %d, want %s listed as left by a killed workshop:\n%s", psa.Code, rec.ID, psa.Stdout)
	}

	r := runClean(t, dir)
	cleanedUp(t, dir, r, rec, sleep)
	for _, want := range []string{`umount2("` + rootfs + `", MNT_DETACH) = 0`, `unlinkat(AT_FDCWD, "` + rec.Cgroups[0] + `", AT_REMOVEDIR) = 0`} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration lacks %s:\n%s", want, r.Stderr)
		}
	}
	nothingToRemove(t, dir, rec.ID)
}

// A workshop killed while the child it forked for the container has not
// made its execve yet (held in it here): the child holds a copy of the
// run's lock, whose descriptor goes only at the execve, and clean took
// the lock for the dead workshop's ("left container …: in use by workshop
// pid N", the whole container left). clean waits for the lock to go, then
// removes the container.
func TestCleanAfterAWorkshopKilledAsItsChildStarts(t *testing.T) {
	dir := cleanState(t)
	// The base image first: it is made with execs of its own.
	if first := testbin.Run(t, "", "--state-dir", dir, "full", "run", "--quiet", "--", "/bin/true"); first.Code != 0 {
		t.Fatalf("a first run = exit %d\n%s", first.Code, first.Stderr)
	}
	// The window is the child's held execve: on a slow machine (the
	// emulated arm64 VM stalls a second now and then) it may end before
	// the test has seen workshop dead, and it is tried again. Not held
	// longer: clean waits for the child's lock only 2 s (lockOutlivesWait),
	// and would leave the container to a child held past them.
	hold := 1500 * time.Millisecond
	testbin.InWindow(t, []time.Duration{hold, hold, hold}, func(hold time.Duration) ([]string, bool) {
		strace, sargs := testbin.Holding(t, "execve", hold, "--no-color", "--state-dir", dir, "full", "run", "--", "/bin/true")
		r := testbin.Start(t, "", strace, sargs...)
		var workshop, child int
		ended := false // the run over, its child never seen held
		eventually(t, "workshop's child held in its execve", func() bool {
			if kids := state.Children(r.Cmd.Process.Pid); len(kids) > 0 {
				workshop = kids[0] // strace's child
				for _, k := range state.Children(workshop) {
					if testbin.InSyscall(k, unix.SYS_EXECVE) {
						child = k
						return true
					}
				}
			}
			ended = testbin.Ended(r.Cmd.Process.Pid)
			return ended
		})
		if ended {
			res := r.Wait()
			return []string{fmt.Sprintf("the run (exit %d) ended, its child never seen held in its execve (held %v)\n%s", res.Code, hold, res.Stderr)}, true
		}
		childProc := processOf(t, child)
		if err := unix.Kill(workshop, unix.SIGKILL); err != nil {
			t.Fatalf("SIGKILL workshop: %v", err)
		}
		eventually(t, "workshop dead", func() bool { st, _, ok := procStat(workshop); return !ok || st == "Z" })
		entries, err := os.ReadDir(state.ContainersDir(dir))
		if err != nil || len(entries) != 1 {
			t.Fatalf("records in %s = %v (%v), want the run's one", state.ContainersDir(dir), entries, err)
		}
		rec, err := state.Load(dir, entries[0].Name())
		if err != nil {
			t.Fatal(err)
		}
		if !rec.LockOutlivesWorkshop() {
			// Missed where the child has left its execve.
			missed := !testbin.InSyscall(child, unix.SYS_EXECVE)
			if c := runClean(t, dir); c.Code != 0 {
				t.Fatalf("clean after the lock was found gone = exit %d\n%s", c.Code, c.Stderr)
			}
			r.Wait()
			return []string{fmt.Sprintf("the run's lock is not held by workshop's child (pid %d) after workshop's death (held %v)", child, hold)}, missed
		}
		res := runClean(t, dir)
		cleanedUp(t, dir, res, rec, childProc)
		// The pause is said, with who held the lock: the child, by its
		// pid. (Where the child's execve ended before clean looked, on a
		// slow machine, clean did not wait:
		// TestCleanNamesWhoHoldsADeadRunsLock sees the note every time.)
		if strings.Contains(res.Stderr, "clean waited") && !strings.Contains(res.Stderr, fmt.Sprintf("and pid %d (", child)) || strings.Contains(res.Stderr, "not workshop's program") {
			t.Errorf("clean, which waited for workshop's child (pid %d) to let go of the lock, does not name it, or takes it for another program:\n%s", child, res.Stderr)
		}
		r.Wait()
		nothingToRemove(t, dir, rec.ID)
		return nil, false
	})
}

// A --keep run killed with its workshop is no container that ended with its
// layer kept: its mount and cgroup are still there, and ps -a says so.
func TestPsAllOfAKilledKeepRun(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "full", "run", "--keep", "--", "/bin/sleep", "300")
	rec := runningRecord(t, dir, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)
	b.sigkill(t)
	eventually(t, "the container's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })
	psa := testbin.Run(t, "", "--state-dir", dir, "ps", "-a")
	if want := regexp.MustCompile(`(?m)^` + rec.ID + ` .* left by a killed workshop$`); psa.Code != 0 || !want.MatchString(psa.Stdout) {
		t.Errorf("ps -a after a SIGKILL of a --keep run = exit %d, want %s listed as left by a killed workshop:\n%s", psa.Code, rec.ID, psa.Stdout)
	}
	r := runClean(t, dir)
	cleanedUp(t, dir, r, rec, sleep)
}

// Without a PID namespace, killing the container's first process leaves
// its children running: clean kills them through the cgroup.
func TestCleanKillsWhatOutlivedTheContainer(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "full", "run", "--ns", "mount,uts,ipc,net,user", "--",
		"/bin/sh", "-c", "sleep 300 & exec sleep 301")
	rec := runningRecord(t, dir, "sleep 301", b)
	first := processOf(t, rec.Pid)
	cg, err := cgroups.Open(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var child liveProcess
	eventually(t, "the background sleep is in the container's cgroup", func() bool {
		pids, _ := cg.Procs()
		for _, p := range pids {
			if p != rec.Pid && cmdline(p) == "sleep 300" {
				child = processOf(t, p)
				return true
			}
		}
		return false
	})
	t.Cleanup(func() {
		if child.alive() {
			unix.Kill(child.pid, unix.SIGKILL)
		}
	})

	b.sigkill(t)
	eventually(t, "the container's first process dies with its workshop", func() bool { return !first.alive() })
	if !child.alive() {
		t.Fatalf("the background sleep died too: nothing is left for clean to kill")
	}
	r := runClean(t, dir)
	cleanedUp(t, dir, r, rec, first, child)
	if !strings.Contains(r.Stdout, "killed 1 process") || !killNarration(t, rec, child.pid).MatchString(r.Stderr) {
		t.Errorf("clean does not say it killed pid %d (%s):\nstdout:\n%s\nstderr:\n%s", child.pid, killNarration(t, rec, child.pid), r.Stdout, r.Stderr)
	}
	nothingToRemove(t, dir, rec.ID)
}

// The same for step 4: its cgroup and its record stay after a SIGKILL. The
// killed workshop is not collected before clean runs: a zombie is dead.
func TestCleanAfterStep4Killed(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "step", "4", "--memory", "64M", "--", "/bin/sleep", "300")
	rec := runningRecord(t, dir, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)

	b.sigkillNoWait(t)
	eventually(t, "the container's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })
	if d := cgroupDirs(rec.ID); len(d) == 0 {
		t.Errorf("after the SIGKILL, the container's cgroup is gone already: nothing to test")
	}
	if !pathExists(filepath.Join(rec.Dir(), "state.json")) {
		t.Errorf("after the SIGKILL, the record of %s is gone", rec.ID)
	}
	r := runClean(t, dir)
	cleanedUp(t, dir, r, rec, sleep)
	if !strings.Contains(r.Stdout, "removed "+filepath.Join(dir, "my-new-root")) || pathExists(filepath.Join(dir, "my-new-root")) {
		t.Errorf("the root of step 4 is not removed:\n%s", r.Stdout)
	}
	nothingToRemove(t, dir, rec.ID)
}

// Step 3 records nothing: its container dies with workshop, its mounts with
// the container's mount namespace, and clean finds nothing to do.
func TestStep3KilledLeavesNothing(t *testing.T) {
	dir := cleanState(t)
	root := filepath.Join(t.TempDir(), "root")
	b := startWorkshop(t, dir, "step", "3", "--root", root, "--", "/bin/sleep", "300")
	var sleep liveProcess
	eventually(t, "step 3's container runs /bin/sleep 300", func() bool {
		if b.cmd.ProcessState != nil {
			t.Fatalf("workshop ended early:\n%s", b.narration())
		}
		for _, p := range state.Children(b.cmd.Process.Pid) {
			if cmdline(p) == "/bin/sleep 300" {
				sleep = processOf(t, p)
				return true
			}
		}
		return false
	})
	b.sigkill(t)
	eventually(t, "step 3's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })
	if m := testbin.MountsUnder(t, root); len(m) > 0 {
		t.Errorf("mounts of the container are visible on the host: %q", m)
	}
	r := runClean(t, dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "to remove in ") || strings.Contains(r.Stdout, "removed ") {
		t.Errorf("workshop clean after step 3 = exit %d; want 0 and nothing to remove\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A container whose workshop process lives is left as it is, its image
// store too, even with --images.
func TestCleanLeavesARunningContainer(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "full", "run", "--", "/bin/sleep", "300")
	rec := runningRecord(t, dir, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)

	r := runClean(t, dir, "--images")
	want := fmt.Sprintf("left container %s (%s, step 6): in use by workshop pid %d", rec.ID, rec.Name, b.cmd.Process.Pid)
	if r.Code != 0 || !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, "runs from one of its images") {
		t.Errorf("workshop clean --images = exit %d; want 0, %q and the image store left\nstdout:\n%s\nstderr:\n%s", r.Code, want, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "removed ") && (!strings.Contains(r.Stdout, "nothing else to remove in "+dir+"\n") || strings.Contains(r.Stdout, "nothing to remove")) {
		t.Errorf("workshop clean that left a container and removed nothing said:\n%s\nwant \"nothing else to remove in %s\"", r.Stdout, dir)
	}
	if !sleep.alive() {
		t.Errorf("clean killed the running container's sleep")
	}
	if m := testbin.MountsUnder(t, dir); len(m) != 1 {
		t.Errorf("mounts under the state directory = %q, want the running container's overlay", m)
	}
	if d := cgroupDirs(rec.ID); len(d) == 0 {
		t.Errorf("clean removed the running container's cgroup")
	}
	if !pathExists(filepath.Join(rec.Dir(), "state.json")) || !pathExists(rec.Lower) {
		t.Errorf("clean removed the running container's record or its image")
	}

	// The container ends (its sleep killed); workshop undoes its run itself.
	unix.Kill(sleep.pid, unix.SIGKILL)
	b.cmd.Wait()
	if code := b.cmd.ProcessState.ExitCode(); code != 137 {
		t.Errorf("workshop full run after its sleep was killed = exit %d, want 137\n%s", code, b.narration())
	}
	if pathExists(rec.Dir()) || len(cgroupDirs(rec.ID)) > 0 || len(testbin.MountsUnder(t, dir)) > 0 {
		t.Errorf("the run did not undo itself when it ended")
	}
}

// Images stay unless --images; what an addition killed halfway left goes,
// but not while another workshop command holds the store's lock.
func TestCleanImages(t *testing.T) {
	dir := cleanState(t)
	if r := testbin.Run(t, "", "--quiet", "--state-dir", dir, "full", "run", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("workshop full run = %d:\n%s", r.Code, r.Stderr)
	}
	images := filepath.Join(dir, "images")
	ids, _ := filepath.Glob(filepath.Join(images, strings.Repeat("[0-9a-f]", 64)))
	if len(ids) != 1 {
		t.Fatalf("the store holds %q, want the base image", ids)
	}
	stale := []string{
		filepath.Join(images, ".new-0a1b2c3d4e5f"),
		filepath.Join(images, "index.json.tmp"),
		filepath.Join(ids[0], ".rootfs.unpack-0a1b2c3d4e5f"),
	}
	makeStale := func() {
		os.MkdirAll(filepath.Join(stale[0], "rootfs", "bin"), 0o755)
		os.WriteFile(filepath.Join(stale[0], "rootfs.tar"), []byte("half a tar"), 0o644)
		os.WriteFile(stale[1], []byte("{"), 0o644)
		os.MkdirAll(filepath.Join(stale[2], "etc"), 0o700)
	}

	// Another workshop command holds the lock: nothing in the store is stale.
	makeStale()
	lock, err := os.Open(filepath.Join(images, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	r := runClean(t, dir)
	lock.Close()
	if r.Code != 0 || !strings.Contains(r.Stdout, "in use by another workshop command") {
		t.Errorf("workshop clean while the store is locked = exit %d; want 0 and the store left\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, p := range stale {
		if !pathExists(p) {
			t.Errorf("%s was removed while the store's lock was held", p)
		}
	}

	r = runClean(t, dir)
	if r.Code != 0 {
		t.Errorf("workshop clean = exit %d\n%s", r.Code, r.Stderr)
	}
	for _, p := range stale {
		if pathExists(p) || !strings.Contains(r.Stdout, "removed "+p+" (left by an image addition") {
			t.Errorf("%s: not removed, or not said so:\n%s", p, r.Stdout)
		}
	}
	if !pathExists(ids[0]) {
		t.Fatalf("clean without --images removed the image %s", ids[0])
	}
	if r := testbin.Run(t, "", "--state-dir", dir, "image", "ls"); r.Code != 0 || !strings.Contains(r.Stdout, "base") {
		t.Errorf("workshop image ls after clean = %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	nothingToRemove(t, dir)

	r = runClean(t, dir, "--images")
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed the image store "+images+", with 1 image (--images") {
		t.Errorf("workshop clean --images = exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// All but the lock, which a command waiting for it waits on.
	if left, err := os.ReadDir(images); err != nil || len(left) != 1 || left[0].Name() != "lock" {
		t.Errorf("after clean --images, the store holds %v (%v), want its lock alone", left, err)
	}
	// The index goes first, so that a removal stopped half-way leaves a
	// store that names no image it lost.
	first := fmt.Sprintf("unlinkat(AT_FDCWD, %q, 0) = 0", filepath.Join(images, "index.json"))
	if i := strings.Index(r.Stderr, first); i < 0 || strings.Contains(r.Stderr[:i], "unlinkat(") {
		t.Errorf("clean --images did not remove %s first:\n%s", filepath.Join(images, "index.json"), r.Stderr)
	}
	nothingToRemove(t, dir)
	// Again with --images: the lock it left is not a store to remove (it
	// said it removed the store again, with 0 images, every time).
	if r := runClean(t, dir, "--images"); r.Code != 0 || !removedNothing(r.Stdout, "nothing to remove in "+dir+"\n", nil) {
		t.Errorf("a second workshop clean --images = exit %d; want 0 and 'nothing to remove'\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A root a process still works in is left, and said so; a mount left under
// a root is detached first (innermost first, a path with a space in it),
// and then the root goes.
func TestCleanRootsInUseAndLeftoverMounts(t *testing.T) {
	dir := cleanState(t)
	root := filepath.Join(dir, "my-new-root")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "sh"), []byte("not really"), 0o755)
	sleep := exec.Command("/bin/sleep", "300")
	sleep.Dir = root
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })

	// step5/container root/proc: a tmpfs, one inside it, and one stacked on
	// top, which hides the inner one.
	proc := filepath.Join(dir, "step5", "container root", "proc")
	os.MkdirAll(proc, 0o755)
	mount := func(at string) {
		t.Helper()
		if err := unix.Mount("cleantest", at, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatalf("mount a tmpfs on %s: %v", at, err)
		}
	}
	mount(proc)
	os.Mkdir(filepath.Join(proc, "inner"), 0o755)
	mount(filepath.Join(proc, "inner"))
	mount(proc)
	os.WriteFile(filepath.Join(dir, "step5", "dockercontainer.tar"), []byte("a tar"), 0o644)
	if m := testbin.MountsUnder(t, dir); len(m) != 3 {
		t.Fatalf("mounts under the state directory = %q, want the three tmpfs", m)
	}

	r := runClean(t, dir)
	if r.Code != 0 {
		t.Errorf("workshop clean = exit %d\n%s", r.Code, r.Stderr)
	}
	if m := testbin.MountsUnder(t, dir); len(m) > 0 {
		t.Errorf("mounts left: %q", m)
	}
	for _, want := range []string{
		"removed the mount " + proc + " (tmpfs, left over)",
		"removed " + filepath.Join(dir, "step5") + " (step 5's",
		fmt.Sprintf("left %s (the root of steps 2 to 4): in use by pid %d (sleep)", root, sleep.Process.Pid),
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("clean said:\n%s\nwant a line with %q", r.Stdout, want)
		}
	}
	if pathExists(filepath.Join(dir, "step5")) || !pathExists(filepath.Join(root, "bin", "sh")) {
		t.Errorf("step5 there: %v (want gone); my-new-root there: %v (want kept)", pathExists(filepath.Join(dir, "step5")), pathExists(root))
	}

	sleep.Process.Kill()
	sleep.Wait()
	r = runClean(t, dir)
	if r.Code != 0 || pathExists(root) || !strings.Contains(r.Stdout, "removed "+root+" (the root of steps 2 to 4)") {
		t.Errorf("workshop clean once nothing runs in the root = exit %d, root there: %v\n%s%s", r.Code, pathExists(root), r.Stdout, r.Stderr)
	}
	nothingToRemove(t, dir)
}

// A cgroup under workshop/ that no run of this state directory records is
// removed only if it is empty and older than a minute; processes in one
// are never killed.
func TestCleanOrphanCgroups(t *testing.T) {
	dir := cleanState(t)
	newGroup := func(what string) *cgroups.Cgroup {
		t.Helper()
		var b [4]byte
		rand.Read(b[:])
		cg, err := cgroups.New(sys.Discard(), "cleantest-"+what+"-"+hex.EncodeToString(b[:]), cgroups.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cg.Remove() })
		return cg
	}
	backdate := func(cg *cgroups.Cgroup) {
		t.Helper()
		past := time.Now().Add(-2 * orphanAge)
		for _, p := range cg.Paths() {
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
	old, young, busy, ended := newGroup("old"), newGroup("young"), newGroup("busy"), newGroup("ended")
	backdate(old)
	backdate(busy)
	// The group of a run of another state directory whose container just
	// ended, its workshop (here, this test) alive: not an orphan, however old.
	other := &state.Run{ID: ended.ID()}
	if err := state.New(t.TempDir(), other); err != nil {
		t.Fatal(err)
	}
	defer other.LetGo()
	backdate(ended)
	sleep := exec.Command("/bin/sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	if err := busy.Add(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	backdate(busy)
	p := processOf(t, sleep.Process.Pid)

	r := runClean(t, dir)
	if r.Code != 0 {
		t.Errorf("workshop clean = exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"removed cgroup workshop/" + old.ID() + " (empty, its directory's time ",
		"left cgroup workshop/" + young.ID() + ": empty and recorded by no container of " + dir + " (another state directory's, or one starting), but its directory's time is only ",
		"left cgroup workshop/" + busy.ID() + ": 1 process in it",
		"left cgroup workshop/" + ended.ID() + ": empty, and the workshop of its run (" + other.Dir() + ") lives",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("clean said:\n%s\nwant a line with %q", r.Stdout, want)
		}
	}
	if d := cgroupDirs(old.ID()); len(d) > 0 {
		t.Errorf("the old empty group is still there: %q", d)
	}
	if len(cgroupDirs(young.ID())) == 0 || len(cgroupDirs(busy.ID())) == 0 || len(cgroupDirs(ended.ID())) == 0 {
		t.Errorf("clean removed a young, a busy or a live run's group")
	}
	if !p.alive() {
		t.Errorf("clean killed a process of a cgroup no run here records")
	}
}

// A workshop/ group that is none of workshop's parents (one in a v1
// hierarchy workshop does not use, or deeper in a v2 tree) is left alone,
// however old and empty: clean used to remove /sys/fs/cgroup/*/workshop.
func TestCleanLeavesAWorkshopGroupOfSomeoneElse(t *testing.T) {
	dir := cleanState(t)
	mode, err := cgroups.Detect()
	if err != nil {
		t.Fatal(err)
	}
	parents, err := cgroups.Parents()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, p := range parents {
		ours[p] = true
	}
	var b [4]byte
	rand.Read(b[:])
	var made []string // to remove, innermost last
	var foreign string
	if mode == cgroups.V2 {
		// A group of someone's, with a child that happens to be named workshop.
		top := filepath.Join(cgroups.Root, "cleantest-"+hex.EncodeToString(b[:]))
		foreign = filepath.Join(top, cgroups.Parent)
		made = []string{top, foreign}
	} else {
		// The workshop/ of a v1 hierarchy workshop makes no group in.
		hierarchies, _ := filepath.Glob(filepath.Join(cgroups.Root, "*"))
		for _, h := range hierarchies {
			var fs unix.Statfs_t
			p := filepath.Join(h, cgroups.Parent)
			if unix.Statfs(h, &fs) != nil || fs.Type != unix.CGROUP_SUPER_MAGIC || ours[p] || pathExists(p) {
				continue
			}
			if real, err := filepath.EvalSymlinks(h); err != nil || real != h {
				continue // cpu -> cpu,cpuacct: the same hierarchy by another name
			}
			foreign, made = p, []string{p}
			break
		}
		if foreign == "" {
			t.Fatalf("no v1 hierarchy here that workshop does not use, among %q", hierarchies)
		}
	}
	for _, d := range made {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
	})
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(foreign, hour, hour); err != nil {
		t.Fatal(err)
	}

	r := runClean(t, dir)
	if r.Code != 0 {
		t.Errorf("workshop clean = exit %d\n%s", r.Code, r.Stderr)
	}
	if !pathExists(foreign) {
		t.Errorf("clean removed %s, a group none of workshop's:\n%s", foreign, r.Stdout)
	}
}

// Clean needs root, and says so in one sentence.
func TestCleanNeedsRoot(t *testing.T) {
	r := testbin.RunAsNobody(t, "--state-dir", filepath.Join(t.TempDir(), "state"), "clean")
	if r.Code != 125 {
		t.Fatalf("workshop clean as nobody = exit %d, want 125\n%s", r.Code, r.Stderr)
	}
	if want := "workshop: clean needs root: run it with sudo"; !strings.HasPrefix(r.Stderr, want) ||
		strings.Count(r.Stderr, "\n") != 1 || r.Stdout != "" {
		t.Errorf("workshop clean as nobody said:\nstdout: %q\nstderr: %q\nwant one sentence starting %q", r.Stdout, r.Stderr, want)
	}
}

// On a state directory with nothing in it, or none at all, clean finds
// nothing to remove, and makes nothing either.
func TestCleanNothingThere(t *testing.T) {
	empty := cleanState(t)
	r := runClean(t, empty)
	if r.Code != 0 || !removedNothing(r.Stdout, "nothing to remove in "+empty+"\n", nil) {
		t.Errorf("workshop clean of an empty state directory = exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("clean of an empty state directory made %v in it", entries)
	}
	missing := filepath.Join(empty, "not", "there")
	r = runClean(t, missing)
	if r.Code != 0 || !removedNothing(r.Stdout, "nothing to remove: "+missing+" does not exist\n", nil) {
		t.Errorf("workshop clean of a missing state directory = exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if pathExists(filepath.Join(empty, "not")) {
		t.Errorf("clean made the state directory it was given")
	}
	if r := runClean(t, empty, "extra"); r.Code != 125 || !strings.Contains(r.Stderr, "clean takes no arguments") {
		t.Errorf("workshop clean extra = exit %d, stderr %q; want 125 and a sentence", r.Code, r.Stderr)
	}
}

// cgroupV2 is true on a cgroup v2 machine (cgroup2 on /sys/fs/cgroup), false
// on v1 or hybrid (the controllers in v1 hierarchies), read from the
// filesystem, independently of the code under test.
func cgroupV2(t *testing.T) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}

// killNarration matches the lines with which clean kills what is left in
// the cgroup of rec: on v1 and hybrid a kill(2) of pid (through the
// freezer); on v2 one write of "1" to the group's cgroup.kill, which kills
// every process in it at once (there is no per-pid kill(2) to narrate).
func killNarration(t *testing.T, rec *state.Run, pid int) *regexp.Regexp {
	t.Helper()
	if cgroupV2(t) {
		return regexp.MustCompile(`(?m)^openat\(AT_FDCWD, "` + regexp.QuoteMeta(filepath.Join(rec.Cgroups[0], "cgroup.kill")) + `", O_WRONLY\|O_CLOEXEC\) = (\d+)\nwrite\((\d+), "1", 1\) = 1$`)
	}
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(fmt.Sprintf("kill(%d, SIGKILL) = 0", pid)) + `$`)
}

// Every line clean narrates is in strace's record of it: the kill of what
// outlived a container (through the freezer on v1, cgroup.kill on v2), the umount2 of its overlay,
// the rmdir of its cgroup, the unlinkat of its files, the store's flock.
func TestCleanNarrationMatchesStrace(t *testing.T) {
	dir := cleanState(t)
	b := startWorkshop(t, dir, "full", "run", "--ns", "mount,uts,ipc,net,user", "--",
		"/bin/sh", "-c", "sleep 300 & exec sleep 301")
	rec := runningRecord(t, dir, "sleep 301", b)
	cg, err := cgroups.Open(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the background sleep is in the container's cgroup", func() bool {
		pids, _ := cg.Procs()
		return len(pids) == 2
	})
	pids, _ := cg.Procs()
	var procs []liveProcess
	for _, p := range pids {
		procs = append(procs, processOf(t, p))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.alive() { // clean failed to kill it
				unix.Kill(p.pid, unix.SIGKILL)
			}
		}
	})
	b.sigkill(t)
	os.MkdirAll(filepath.Join(dir, "images", ".new-0a1b2c3d4e5f", "rootfs"), 0o755)

	r, log := stracecheck.Trace(t, stracecheck.Syscalls, "", "--state-dir", dir, "clean")
	stracecheck.Compare(t, r.Stderr, log, stracecheck.Syscalls)
	if r.Code != 0 {
		t.Errorf("workshop clean under strace = exit %d\n%s", r.Code, r.Stderr)
	}
	wants := []string{`umount2("` + filepath.Join(rec.Dir(), "rootfs"), "unlinkat(AT_FDCWD, \"" + rec.Cgroups[0], "flock("}
	if cgroupV2(t) {
		if !killNarration(t, rec, 0).MatchString(r.Stderr) {
			t.Errorf("the narration checked against strace lacks the write of 1 to %s/cgroup.kill", rec.Cgroups[0])
		}
	} else {
		wants = append(wants, "kill(", "freezer.state")
	}
	for _, want := range wants {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration checked against strace lacks %q", want)
		}
	}
}

// A step that is still making its root stands in no /proc/PID/root inside
// it: every `workshop step N` holds the steps lock, and clean leaves the
// steps' roots while it is held, and says why.
func TestCleanLeavesTheRootsOfARunningStep(t *testing.T) {
	dir := cleanState(t)
	root := filepath.Join(dir, "my-new-root")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	release := state.HoldSteps(dir) // as a step that runs does
	r := runClean(t, dir)
	release()
	if r.Code != 0 || !pathExists(root) || !strings.Contains(r.Stdout, "left "+root+" (the root of steps 2 to 4): a workshop step is running") {
		t.Errorf("clean while a step holds the lock = exit %d, root there: %v; want it left, and why\n%s%s", r.Code, pathExists(root), r.Stdout, r.Stderr)
	}
	r = runClean(t, dir)
	if r.Code != 0 || pathExists(root) {
		t.Errorf("clean once no step runs = exit %d, root there: %v\n%s%s", r.Code, pathExists(root), r.Stdout, r.Stderr)
	}
	// Its lock file too: the next step makes it anew.
	if lock := filepath.Join(dir, state.StepsLockName); pathExists(lock) {
		t.Errorf("clean once no step runs left %s", lock)
	}

	// The steps hold it: step 3's, while its command runs; and steps 2, 4
	// and 5 in a state dir that was not there before them (they held
	// nothing there, and a clean removed the root they were filling: an
	// adversary's pass).
	for _, c := range []struct {
		dir  string
		step string
	}{{dir, "3"}, {filepath.Join(dir, "fresh2"), "2"}, {filepath.Join(dir, "fresh4"), "4"}, {filepath.Join(dir, "fresh5"), "5"}} {
		s := testbin.Start(t, "", testbin.Bin(t), "--state-dir", c.dir, "step", c.step, "--", "/bin/sleep", "30")
		s.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "30"], …) = 0`)
		lock, err := os.Open(filepath.Join(c.dir, state.StepsLockName))
		if err != nil {
			t.Fatalf("step %s: %v", c.step, err)
		}
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
			t.Errorf("flock(LOCK_EX) of %s while step %s runs in %s = %v, want EWOULDBLOCK: the step does not hold it", state.StepsLockName, c.step, c.dir, err)
		}
		lock.Close()
		s.Signal(syscall.SIGKILL)
		s.Wait()
		// What the killed step made (step 4's cgroup) is clean's to
		// remove: the test's own sweep knows only dir's records (it was
		// left on the machine).
		runs, _ := state.List(c.dir)
		if r := runClean(t, c.dir); r.Code != 0 {
			t.Errorf("clean after the killed step %s = %d\n%s%s", c.step, r.Code, r.Stdout, r.Stderr)
		}
		for _, run := range runs {
			if d := cgroupDirs(run.ID); len(d) > 0 {
				t.Errorf("the killed step %s's cgroup is left after clean: %q", c.step, d)
			}
		}
	}
}

// A run holds the image store's lock from finding its image until its
// record names the image: a clean --images in between, which looks at the
// records only under the lock, leaves the store.
func TestCleanImagesWaitsForARunsRecord(t *testing.T) {
	dir := cleanState(t)
	if r := testbin.Run(t, "", "--quiet", "--state-dir", dir, "full", "run", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("workshop full run = %d:\n%s", r.Code, r.Stderr)
	}
	// The record is renamed into place (state.Save): held there, 2 s.
	strace, args := testbin.Holding(t, "renameat", 2*time.Second, "--state-dir", dir, "full", "run", "--", "/bin/true")
	s := testbin.Start(t, "", strace, args...)
	// The record's first write is there, its rename held: the run is
	// between finding its image and naming it in its record.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dir, "containers", "*", ".state.json.tmp")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never wrote its record:\n%s", s.Stderr)
		}
	}
	r := runClean(t, dir, "--images")
	images := filepath.Join(dir, "images")
	if !pathExists(images) || !strings.Contains(r.Stdout, "left the image store "+images) {
		t.Errorf("clean --images while a run starts = exit %d, store there: %v; want it left\n%s%s", r.Code, pathExists(images), r.Stdout, r.Stderr)
	}
	if res := s.Wait(); res.Code != 0 {
		t.Errorf("the run = exit %d\n%s", res.Code, res.Stderr)
	}
}

// One clean at a time in a state directory: a second one waits for the
// first (here, a lock held by the test), says so, and then cleans; Ctrl-C
// stops the wait with 130 and a sentence. Two at once used to undo the
// same killed run, and the second failed with 125 on what the first had
// removed.
func TestCleansTakeTurns(t *testing.T) {
	dir := cleanState(t)
	hold := func() (release func()) { return testbin.LockedFile(t, dir) }
	const waiting = "another workshop clean is cleaning " // then the directory

	release := hold()
	second := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", dir, "clean")
	second.Stderr.WaitFor(t, waiting)
	release()
	if r := second.Wait(); r.Code != 0 || !strings.Contains(r.Stderr, "the other clean finished") {
		t.Errorf("the clean that waited = exit %d, want 0 and the end of the wait told:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	release = hold()
	defer release()
	interrupted := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", dir, "clean")
	interrupted.Stderr.WaitFor(t, waiting)
	interrupted.Signal(unix.SIGINT)
	r := interrupted.Wait()
	if r.Code != 130 || !strings.Contains(r.Stderr, "interrupted by SIGINT while waiting for another clean of "+dir+"; nothing was removed") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("Ctrl-C of a waiting clean = exit %d, want 130 and one sentence:\n%s", r.Code, r.Stderr)
	}
}

// A store command that waits for the store's lock while clean --images
// holds it goes on once clean is done, in the emptied store. clean used to
// remove the lock file with the store: the waiter then held a lock on a
// file no one else could open, and failed on the store's directory, gone
// (125), or, with a newcomer on a new lock file, worked beside it.
func TestStoreCommandWaitingThroughCleanImages(t *testing.T) {
	// The waiter must come while clean holds the store's lock, through
	// its held unlinks; one that found clean over (a stall longer than
	// them, in the emulated VM) did not wait: tried again, held longer.
	testbin.InWindow(t, []time.Duration{time.Second, 5 * time.Second}, func(hold time.Duration) ([]string, bool) {
		dir := cleanState(t)
		tiny := testbin.TarFile(t, [2]string{"hello", "hi\n"})
		if r := testbin.Run(t, "", "--quiet", "--state-dir", dir, "image", "import", tiny, "first"); r.Code != 0 {
			t.Fatalf("workshop image import = %d:\n%s", r.Code, r.Stderr)
		}
		// Each of clean's unlinks held a moment: a window while it holds
		// the store's lock.
		strace, args := testbin.Holding(t, "unlinkat", hold, "--no-color", "--state-dir", dir, "clean", "--images")
		clean := testbin.Start(t, "", strace, args...)
		clean.Stderr.WaitFor(t, "LOCK_EX|LOCK_NB) = 0") // the state directory's
		clean.Stderr.WaitFor(t, "unlinkat(")            // the store's index: it holds the store's lock
		// Not --quiet: the wait is said as a note of the narration.
		waiter := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", dir, "image", "import", tiny, "second")
		if r := clean.Wait(); r.Code != 0 || !strings.Contains(r.Stdout, "removed the image store") {
			t.Fatalf("workshop clean --images = exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		w := waiter.Wait()
		if w.Code != 0 {
			t.Fatalf("the import that waited through clean --images = exit %d:\n%s", w.Code, w.Stderr)
		}
		if !strings.Contains(w.Stderr, "waiting for the image store's lock") {
			return []string{"the import started while clean --images held the store's lock never said it waited for it:\n" + w.Stderr}, true
		}
		r := testbin.Run(t, "", "--state-dir", dir, "image", "ls")
		if r.Code != 0 || !strings.Contains(r.Stdout, "second") || strings.Contains(r.Stdout, "first") {
			return []string{fmt.Sprintf("workshop image ls = %d, want the image imported after the clean alone:\n%s%s", r.Code, r.Stdout, r.Stderr)}, false
		}
		return nil, false
	})
}

// A run that reached the state dir by another path (a bind mount of it)
// and was killed: clean through the first path finds its overlay where the
// run mounted it, and detaches it before it removes the layer under it. It
// removed the layer of a mounted overlay, then failed (EBUSY) for ever.
func TestCleanAfterAKilledRunOfABindMountedStateDir(t *testing.T) {
	dir := cleanState(t)
	alias := t.TempDir()
	if err := unix.Mount(dir, alias, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(alias, unix.MNT_DETACH) })
	b := startWorkshop(t, alias, "full", "run", "--", "/bin/sleep", "300")
	rec := runningRecord(t, alias, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)
	b.sigkill(t)
	eventually(t, "the container's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })

	r := runClean(t, dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed container "+rec.ID) {
		t.Errorf("clean through the first path = %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if m := testbin.MountsUnder(t, alias); len(m) != 1 || m[0] != alias { // the bind mount alone
		t.Errorf("the killed run's overlay is still mounted: %q", m)
	}
	if pathExists(filepath.Join(dir, "containers", rec.ID)) {
		t.Errorf("the killed run's directory is still there")
	}
}

// A state dir reached through a symlink: the run's record names the real
// paths, and a clean through the symlink removes everything, saying
// nothing of paths "outside" the state dir (it said three times that it
// never removes anything there, then removed them).
func TestCleanAfterAKilledRunOfASymlinkedStateDir(t *testing.T) {
	dir := cleanState(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	b := startWorkshop(t, link, "full", "run", "--", "/bin/sleep", "300")
	rec := runningRecord(t, dir, "/bin/sleep 300", b)
	sleep := processOf(t, rec.Pid)
	b.sigkill(t)
	eventually(t, "the container's sleep dies with its workshop (PR_SET_PDEATHSIG)", func() bool { return !sleep.alive() })
	if !within(rec.Upper, dir) {
		t.Errorf("the record names its layer %s, not under the state dir's real path %s", rec.Upper, dir)
	}

	r := runClean(t, link)
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed container "+rec.ID) || strings.Contains(r.Stdout, "clean never removes anything there") {
		t.Errorf("clean through the symlink = %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if m := testbin.MountsUnder(t, dir); len(m) != 0 {
		t.Errorf("the killed run's overlay is still mounted: %q", m)
	}
	if pathExists(filepath.Join(dir, "containers", rec.ID)) {
		t.Errorf("the killed run's directory is still there")
	}
}

// A doctor killed with SIGKILL during its mount probe leaves the probe's
// directories (its mounts went with its mount namespace): in the state
// dir, or before that exists in its parent. clean removes them, and so
// does the next doctor; a probe under way (its doctor alive) stays.
func TestCleanRemovesWhatAKilledDoctorLeft(t *testing.T) {
	parent := cleanState(t)
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	dead := ended.Process.Pid
	st := filepath.Join(parent, "state") // not made yet
	left := filepath.Join(parent, fmt.Sprintf(".workshop-doctor-%d-123", dead))
	live := filepath.Join(parent, fmt.Sprintf(".workshop-doctor-%d-456", os.Getpid()))
	// A probe takes a second at most: an hour old.
	hour := time.Now().Add(-time.Hour)
	for _, d := range []string{filepath.Join(left, "upper"), live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Dir(d), hour, hour); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, hour, hour); err != nil {
			t.Fatal(err)
		}
	}
	r := runClean(t, st)
	if want := "removed " + left + " (left by a workshop doctor that was killed)"; r.Code != 0 || !strings.Contains(r.Stdout, want) || pathExists(left) {
		t.Errorf("clean of a state dir not made yet, beside a killed doctor's probe: exit %d\n%s%s\nwant %q, and it gone", r.Code, r.Stdout, r.Stderr, want)
	}
	if !pathExists(live) {
		t.Errorf("clean removed the probe of a doctor that runs")
	}
	left = filepath.Join(st, fmt.Sprintf(".workshop-doctor-%d-789", dead))
	if err := os.MkdirAll(filepath.Join(left, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(left, hour, hour); err != nil {
		t.Fatal(err)
	}
	testbin.Run(t, "", "--state-dir", st, "doctor")
	if pathExists(left) {
		t.Errorf("doctor left an earlier doctor's probe directory %s", left)
	}
	if entries, _ := os.ReadDir(st); len(entries) != 0 {
		t.Errorf("doctor left %v in the state dir", entries)
	}

	// A lab 5 check killed halfway leaves its copy of the student's
	// archive in the state dir: clean removes it once its check is gone.
	labLeft := filepath.Join(st, fmt.Sprintf("%s%d-321", state.LabScratchPrefix, dead))
	labLive := filepath.Join(st, fmt.Sprintf("%s%d-654", state.LabScratchPrefix, os.Getpid()))
	for _, d := range []string{filepath.Join(labLeft, "root", "bin"), labLive} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{labLeft, labLive} {
		if err := os.Chtimes(d, hour, hour); err != nil {
			t.Fatal(err)
		}
	}
	// Or in the system's temporary directory, where the state dir is not
	// root's alone.
	tmpLeft := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-%d", state.LabScratchPrefix, dead, os.Getpid()))
	if err := os.MkdirAll(filepath.Join(tmpLeft, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmpLeft) })
	if err := os.Chtimes(tmpLeft, hour, hour); err != nil {
		t.Fatal(err)
	}
	r = runClean(t, st)
	for _, left := range []string{labLeft, tmpLeft} {
		if want := "removed " + left + " (left by a workshop lab 5 check that was killed)"; r.Code != 0 || !strings.Contains(r.Stdout, want) || pathExists(left) {
			t.Errorf("clean beside a killed lab 5 check's copy: exit %d\n%s%s\nwant %q, and it gone", r.Code, r.Stdout, r.Stderr, want)
		}
	}
	if !pathExists(labLive) {
		t.Errorf("clean removed a running lab 5 check's copy")
	}
	// One whose check is gone, made moments ago: said, left for a minute
	// (its check may be in another PID namespace), not passed over as
	// "nothing to remove".
	labYoung := filepath.Join(st, fmt.Sprintf("%s%d-987", state.LabScratchPrefix, dead))
	if err := os.MkdirAll(labYoung, 0o700); err != nil {
		t.Fatal(err)
	}
	r = runClean(t, st)
	if want := "left " + labYoung + ": a lab 5 check's copy of an archive, whose check is gone, but made less than a minute ago"; r.Code != 0 || !strings.Contains(r.Stdout, want) || !pathExists(labYoung) {
		t.Errorf("clean beside a lab 5 check's copy made moments ago: exit %d\n%s%s\nwant %q, and it there", r.Code, r.Stdout, r.Stderr, want)
	}
}

// A Ctrl-C that comes while clean removes a container (held here in its
// umount2) stops clean once that container is removed whole, with 130 and
// a sentence: not half-way through it, its record renamed and its layer
// half removed, and not before the next either. The other container is
// left as the killed run left it, for the next clean.
func TestCleanInterruptedStopsBetweenContainers(t *testing.T) {
	dir := cleanState(t)
	var recs []*state.Run
	for _, cmd := range []string{"300", "301"} {
		b := startWorkshop(t, dir, "full", "run", "--", "/bin/sleep", cmd)
		rec := runningRecord(t, dir, "/bin/sleep "+cmd, b)
		sleep := processOf(t, rec.Pid)
		b.sigkill(t)
		eventually(t, "the container's sleep dies with its workshop", func() bool { return !sleep.alive() })
		recs = append(recs, rec)
	}
	r, pid := testbin.StartHeldIn(t, "umount2", unix.SYS_UMOUNT2, 2*time.Second, nil, "--no-color", "--state-dir", dir, "clean")
	if err := unix.Kill(pid, unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := r.Wait()
	if res.Code != 130 || !strings.Contains(res.Stderr, "clean interrupted by SIGINT: it stopped after the last thing it said it removed") {
		t.Fatalf("clean interrupted in its first umount2 = exit %d; want 130 and a sentence\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	var gone, left []*state.Run
	for _, rec := range recs {
		if pathExists(rec.Dir()) {
			left = append(left, rec)
		} else {
			gone = append(gone, rec)
		}
	}
	if len(gone) != 1 || len(left) != 1 {
		t.Fatalf("after an interrupted clean, %d of the two containers' records are gone, want 1\nstdout:\n%s", len(gone), res.Stdout)
	}
	if d := cgroupDirs(gone[0].ID); len(d) > 0 || !strings.Contains(res.Stdout, "removed container "+gone[0].ID) {
		t.Errorf("the container clean was removing, %s: cgroups left %q, or no line for it\nstdout:\n%s", gone[0].ID, d, res.Stdout)
	}
	if m := testbin.MountsUnder(t, dir); len(m) != 1 || m[0] != filepath.Join(left[0].Dir(), "rootfs") || len(cgroupDirs(left[0].ID)) == 0 {
		t.Errorf("the other container, %s, was touched: mounts under the state dir %q, cgroups %q", left[0].ID, m, cgroupDirs(left[0].ID))
	}
	entries, _ := os.ReadDir(state.ContainersDir(dir))
	for _, e := range entries {
		if e.Name() != left[0].ID {
			t.Errorf("after an interrupted clean, %s is in the containers directory (half-removed?)", e.Name())
		}
	}
	again := runClean(t, dir)
	cleanedUp(t, dir, again, left[0])
	nothingToRemove(t, dir, recs[0].ID, recs[1].ID)
}

// A Ctrl-C that comes during clean's last removal (held here in the
// rmdir of an empty containers directory, its only unlinkat) is said, with
// 130: it came after clean's last look between removals, and was
// swallowed, clean ending 0.
func TestCleanSaysACtrlCAtItsEnd(t *testing.T) {
	dir := cleanState(t)
	// The signal must come while clean is held in its last removal; a
	// machine that stalls longer than the hold (the emulated VM) sends it
	// after, as if after the end: that case is tried again, held longer.
	testbin.InWindow(t, []time.Duration{2 * time.Second, 15 * time.Second}, func(hold time.Duration) ([]string, bool) {
		if err := os.MkdirAll(state.ContainersDir(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		r, pid, held := testbin.TryStartHeldIn(t, "unlinkat", unix.SYS_UNLINKAT, hold, nil, "--no-color", "--state-dir", dir, "clean")
		if !held {
			res := r.Wait()
			return []string{fmt.Sprintf("clean (exit %d) was never seen held in its unlinkat\n%s", res.Code, res.Stderr)}, true
		}
		if err := unix.Kill(pid, unix.SIGINT); err != nil {
			t.Fatal(err)
		}
		// Sent while clean was still held, the signal came before the
		// removal's end: a fault then is clean's.
		held = testbin.InSyscall(pid, unix.SYS_UNLINKAT)
		// (An old empty cgroup of another test's, removed before, would
		// take the signal between two removals instead: 130 and a
		// sentence too.)
		if res := r.Wait(); res.Code != 130 || !strings.Contains(res.Stderr, "clean interrupted by SIGINT") {
			return []string{fmt.Sprintf("clean interrupted in its last removal = exit %d; want 130 and a sentence\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)}, !held
		}
		return nil, false
	})
}

// A step 3 container with no PID namespace whose workshop was killed with
// SIGKILL: the processes its command left running (here the two sleeps of
// a pipeline, in its process group and, with a mount namespace, in that
// namespace) are killed by clean, from the marker the step left, and the
// root, which they held in use, goes; a process of the same root that is
// not the step's (chrooted there by hand) is not touched. Without a mount
// namespace, by the process group alone. clean named them, and left them
// and the root, for ever.
func TestCleanKillsWhatAKilledStepLeft(t *testing.T) {
	for _, c := range []struct {
		ns   string
		init bool
	}{{"mount,uts,ipc,net,user", false}, {"uts,ipc,net,user", false}, {"uts,ipc,net,user", true}} {
		ns := c.ns
		dir := cleanState(t)
		root := filepath.Join(dir, "my-new-root")
		if r := testbin.Run(t, "", "--no-color", "--state-dir", dir, "step", "2", "--bin", "sleep", "--bin", "sh", "--", "/bin/true"); r.Code != 0 {
			t.Fatalf("step 2 = exit %d\n%s", r.Code, r.Stderr)
		}
		// Not the step's: a process chrooted in the same root by hand.
		mine := exec.Command(testbin.NeedTool(t, "chroot"), root, "/bin/sleep", "300")
		if err := mine.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mine.Process.Kill(); mine.Wait() })
		args := []string{"step", "3", "--ns", ns, "--", "/bin/sh", "-c", "sleep 300 | sleep 301"}
		if c.init {
			// The init's command in a process group of its own.
			args = slices.Insert(args, 2, "--init")
			ns += " --init"
		}
		w := startWorkshop(t, dir, args...)
		var sleeps []int
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			sleeps = slices.DeleteFunc(append(testbin.Living("sleep\x00300\x00"), testbin.Living("sleep\x00301\x00")...), func(pid int) bool {
				return !sameFile(fmt.Sprintf("/proc/%d/root", pid), root) // another test's
			})
			if len(sleeps) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("--ns %s: the step's two sleeps are not both running (%v):\n%s", ns, sleeps, w.narration())
			}
		}
		// The marker names the root as an absolute path, and the
		// namespaces the clone made.
		markers, _ := filepath.Glob(filepath.Join(dir, "stragglers", "*.json"))
		if len(markers) != 1 {
			t.Fatalf("--ns %s: the step's markers = %q, want one", ns, markers)
		}
		if b, err := os.ReadFile(markers[0]); err != nil || !strings.Contains(string(b), `"root":"`+root+`"`) || !strings.Contains(string(b), `"uts":"uts:[`) {
			t.Errorf("--ns %s: the step's marker = %s (%v), want its root %s and its namespaces", ns, b, err, root)
		}
		w.sigkill(t)
		t.Cleanup(func() {
			for _, pid := range sleeps {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		r := runClean(t, dir)
		if r.Code != 0 || !strings.Contains(r.Stdout, "of a killed step's container, after killing 2 processes its command left running, chrooted in "+root) {
			t.Errorf("--ns %s: clean after a killed step 3 = exit %d; want the two sleeps killed\nstdout:\n%s\nstderr:\n%s", ns, r.Code, r.Stdout, r.Stderr)
		}
		for _, pid := range sleeps {
			testbin.GoneWithin(t, pid, "sleep", 5*time.Second)
		}
		if p, ok := state.Stat(mine.Process.Pid); !ok || p.Ended() {
			t.Errorf("--ns %s: clean killed a process chrooted in the root that was not the step's", ns)
		}
		// The root is in use by that one still: left, and said so.
		if !strings.Contains(r.Stdout, "left "+root) {
			t.Errorf("--ns %s: clean did not say it left the root in use:\n%s", ns, r.Stdout)
		}
		mine.Process.Kill()
		mine.Wait()
		if r := runClean(t, dir); r.Code != 0 || pathExists(root) {
			t.Errorf("--ns %s: clean once nothing runs in the root = exit %d, root there: %v\n%s%s", ns, r.Code, pathExists(root), r.Stdout, r.Stderr)
		}
		nothingToRemove(t, dir)
	}
}
