package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// A mount table as this machine's looks, with the kernel's escapes in paths:
// a space (\040), a tab (\011), a newline (\012) and a backslash (\134).
const fixedMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
25 22 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
45 22 0:40 / /var/lib/workshop/containers/e737a08d5b87/rootfs rw,relatime - overlay overlay rw,lowerdir=/var/lib/workshop/images/f1/rootfs,upperdir=/var/lib/workshop/containers/e737a08d5b87/upper,workdir=/var/lib/workshop/containers/e737a08d5b87/work
46 45 0:41 / /var/lib/workshop/containers/e737a08d5b87/rootfs/proc rw - proc proc rw
47 22 0:42 / /var/lib/workshop/my\040new\011root\012x\134y rw master:3 propagate_from:1 unbindable - tmpfs my\040source rw
48 47 0:43 / /var/lib/workshop/my\040new\011root\012x\134y rw - tmpfs none rw
49 22 0:44 / /var/lib/workshop-other rw - tmpfs none rw
`

func TestMountsUnderInnermostFirst(t *testing.T) {
	ms, err := mountopt.Parse(strings.NewReader(fixedMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range mountsUnder(ms, "/var/lib/workshop") {
		got = append(got, m.ID)
	}
	// proc on the overlay before the overlay; the tmpfs stacked on the
	// other before it; /var/lib/workshop-other is not under the dir.
	want := []int{46, 48, 45, 47}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder(/var/lib/workshop) = ids %v, want %v", got, want)
	}
	if got := mountsUnder(ms, "/var/lib/workshop/containers/e737a08d5b87/rootfs"); len(got) != 2 {
		t.Errorf("mountsUnder(the rootfs) = %+v, want the overlay and its proc", got)
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/s/containers", "/s/containers", true},
		{"/s/containers/x", "/s/containers", true},
		{"/s/containers-x", "/s/containers", false},
		{"/s", "/s/containers", false},
		{"/s/x", "/s/", true},
	} {
		if got := within(c.path, c.dir); got != c.want {
			t.Errorf("within(%q, %q) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n          int
		word, want string
	}{
		{1, "mount", "1 mount"}, {2, "mount", "2 mounts"}, {3, "process", "3 processes"},
		{5, "directory", "5 directories"}, {0, "image", "0 images"},
	} {
		if got := plural(c.n, c.word); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.word, got, c.want)
		}
	}
}

// A --keep'd run whose workshop is gone leaves only its writable layer and
// its record; clean removes both and says so. A run still owned is left,
// with its owner's pid.
func TestCleanRunKeptAndOwned(t *testing.T) {
	dir := t.TempDir()
	keptDir := filepath.Join(state.ContainersDir(dir), "0123456789ab")
	kept := writeRecord(t, dir, &state.Run{ID: "0123456789ab", Name: "calm_clone", Step: 6, Keep: true,
		Upper: filepath.Join(keptDir, "upper"), Dirs: []string{filepath.Join(keptDir, "upper")},
		// This process's pid, with a start time it never had: a reused pid, not the owner.
		WorkshopPid: os.Getpid(), WorkshopStart: 1})
	os.MkdirAll(filepath.Join(kept, "upper", "etc"), 0o755)
	os.WriteFile(filepath.Join(kept, "upper", "etc", "written"), []byte("x"), 0o644)

	owned := &state.Run{ID: "ba9876543210", Name: "busy_box", Step: 6}
	if err := state.New(dir, owned); err != nil {
		t.Fatal(err)
	}
	runs, err := state.List(dir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("state.List = %v, %v; want the two records", runs, err)
	}
	var out, errs, narration bytes.Buffer
	c := &cleaner{n: sys.New(&narration, sys.Options{}), out: &out, errOut: &errs, state: dir}
	for _, r := range runs {
		c.run(r)
	}
	// A layer kept on purpose is not described as a crash to undo.
	if !strings.Contains(narration.String(), "it ended, and its writable layer was kept (--keep)") || strings.Contains(narration.String(), "nobody will undo") {
		t.Errorf("clean of a kept layer said:\n%s", narration.String())
	}
	if errs.Len() > 0 || c.res.Removed != 1 || c.res.Left != 1 {
		t.Fatalf("clean of the two runs: removed %d, left %d, failed %q; want 1, 1, none\n%s", c.res.Removed, c.res.Left, errs.String(), out.String())
	}
	if _, err := os.Lstat(kept); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kept run's directory is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(owned.Dir(), "state.json")); err != nil {
		t.Errorf("the owned run's record was removed: %v", err)
	}
	for _, want := range []string{
		"removed container 0123456789ab (calm_clone, step 6), which ended with its layer kept (--keep): ",
		"its writable layer, its record " + kept,
		"left container ba9876543210 (busy_box, step 6): in use by workshop pid " + strconv.Itoa(os.Getpid()),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("clean said:\n%s\nwant a line with %q", out.String(), want)
		}
	}
}

// A container directory with no record is removed at once when it cannot
// be a run writing its record: one being removed (.gone-, left by a run or
// a clean killed during the removal) or named by an id (state.New renames
// it to the id with its record in it), unless the workshop removing it
// lives. One being made (.new-) is removed once it is old, or at once if its
// record was being written and no workshop holds it any more.
func TestUnrecordedDirs(t *testing.T) {
	dir := t.TempDir()
	containers := state.ContainersDir(dir)
	unrecorded := filepath.Join(containers, "aaaaaaaaaaaa")
	gone := filepath.Join(containers, state.GonePrefix+"dddddddddddd")
	oldNew := filepath.Join(containers, state.NewPrefix+"eeeeeeeeeeee")
	young := filepath.Join(containers, state.NewPrefix+"bbbbbbbbbbbb")
	damaged := filepath.Join(containers, "cccccccccccc")
	for _, d := range []string{filepath.Join(unrecorded, "upper"), filepath.Join(gone, "work"), oldNew, young, filepath.Join(damaged, "upper")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(damaged, "state.json"), []byte("{half"), 0o600)
	// A run recording its container now: its workshop holds the lock.
	testbin.LockedFile(t, young)
	os.WriteFile(filepath.Join(young, ".state.json.tmp"), nil, 0o600)
	past := time.Now().Add(-2 * staleAge)
	os.Chtimes(oldNew, past, past)
	os.Chtimes(damaged, past, past)
	// A workshop killed while it recorded its run: its record's temporary
	// file is written under the lock, which no one holds now. Removed at
	// once, however young (it was said "left" for a minute).
	killed := filepath.Join(containers, state.NewPrefix+"999999999999")
	if err := os.MkdirAll(killed, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(killed, ".state.json.tmp"), []byte("{"), 0o600)
	// A run's workshop removing its directory now (Forget renamed it, and
	// holds its lock): not clean's to remove, nor to claim.
	removing := &state.Run{ID: "ffffffffffff"}
	if err := state.New(dir, removing); err != nil {
		t.Fatal(err)
	}
	defer removing.LetGo()
	if err := os.Rename(removing.Dir(), removing.GoneDir()); err != nil {
		t.Fatal(err)
	}

	// Made under a name that names its maker (state.New): one whose maker
	// is dead (a pid no process has) is removed at once, however young
	// (a kill -9 between the mkdir and the lock left it for a minute);
	// one whose maker lives, not yet locked, is left and said so; one
	// locked, a run recording its container, is left without a word.
	var ns unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &ns); err != nil {
		t.Fatal(err)
	}
	deadMaker := filepath.Join(containers, fmt.Sprintf("%s777777777777.%d.%d.%d", state.MakingPrefix, 1<<22+1, 12345, ns.Ino))
	liveMaker := filepath.Join(containers, fmt.Sprintf("%s666666666666.%d.%d.%d", state.MakingPrefix, os.Getpid(), state.StartTime(os.Getpid()), ns.Ino))
	locked := filepath.Join(containers, fmt.Sprintf("%s555555555555.%d.%d.%d", state.MakingPrefix, 1<<22+1, 12345, ns.Ino))
	for _, d := range []string{deadMaker, liveMaker, locked} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	testbin.LockedFile(t, locked)
	// However old: a maker stopped (Ctrl-Z, a tracer) between its mkdir
	// and its lock for longer than a minute lives all the same. (Clean
	// removed it at a minute, and the run, resumed, failed to lock it.)
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(liveMaker, old, old); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	c := &cleaner{n: sys.Discard(), out: &out, errOut: &out, state: dir}
	c.unrecordedDirs(map[string]bool{})
	if _, err := os.Lstat(deadMaker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s, being made by a workshop that is dead, is still there:\n%s", deadMaker, out.String())
	}
	if _, err := os.Stat(liveMaker); err != nil || !strings.Contains(out.String(), "left "+liveMaker+": a container directory being made") {
		t.Errorf("%s, being made by a live workshop, two minutes old: %v, and clean said:\n%s", liveMaker, err, out.String())
	}
	if _, err := os.Stat(locked); err != nil || strings.Contains(out.String(), locked) {
		t.Errorf("%s, locked by the run making it: %v, and clean said:\n%s", locked, err, out.String())
	}
	if _, err := os.Stat(removing.GoneDir()); err != nil || strings.Contains(out.String(), removing.GoneDir()) {
		t.Errorf("%s, which a live run's workshop is removing: %v, and clean said:\n%s", removing.GoneDir(), err, out.String())
	}
	for _, d := range []string{unrecorded, gone, oldNew, killed} {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s, with no record, is still there:\n%s", d, out.String())
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a directory being made just now was removed: %v", err)
	}
	// Left, and said so: a kill -9 while a run wrote its record leaves
	// one, and the student should not think clean missed it.
	if !strings.Contains(out.String(), "left "+young+": a container directory being made") {
		t.Errorf("clean left %s without a word:\n%s", young, out.String())
	}
	// A record that cannot be read may be a running container's: left,
	// and said so (it used to be left without a word).
	if _, err := os.Stat(filepath.Join(damaged, "upper")); err != nil {
		t.Errorf("the layer of a container whose record is unreadable was removed: %v", err)
	}
	if !strings.Contains(out.String(), "left "+damaged+": a container directory whose record is unreadable") {
		t.Errorf("clean left %s without a word:\n%s", damaged, out.String())
	}
}

func writeRecord(t *testing.T, stateDir string, r *state.Run) string {
	t.Helper()
	dir := filepath.Join(state.ContainersDir(stateDir), r.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A run that ended by itself after clean listed the records, its workshop
// gone by the time clean looks: its workshop forgot its record before it
// exited, and there is nothing to undo. Clean used to try, and fail on the
// record's directory (exit 125).
func TestCleanRunForgottenAfterTheList(t *testing.T) {
	dir := t.TempDir()
	r := &state.Run{ID: "0123456789ab", Name: "quick_exit", Step: 6}
	if err := state.New(dir, r); err != nil {
		t.Fatal(err)
	}
	runs, err := state.List(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("state.List = %v, %v; want the record", runs, err)
	}
	listed := runs[0]
	if err := r.Forget(); err != nil { // its run ends, and its workshop exits
		t.Fatal(err)
	}
	listed.WorkshopPid = 1 << 22 // gone (Forget let go of its lock)
	var out, errs bytes.Buffer
	c := &cleaner{n: sys.Discard(), out: &out, errOut: &errs, state: dir}
	c.run(listed)
	if errs.Len() > 0 || c.res.Removed != 0 || len(c.res.Failed) != 0 {
		t.Errorf("clean of a run that ended by itself: removed %d, failed %q; want nothing done\n%s", c.res.Removed, errs.String(), out.String())
	}
}

// An image whose name moved to another image while a container ran from it
// is kept, unnamed (<none>), while it runs; once the container is gone,
// clean removes it. It used to stay until the next change to the store.
func TestCleanRemovesAnUnnamedImageNoLongerUsed(t *testing.T) {
	dir := t.TempDir()
	store := imagetar.OpenStore(dir)
	tree := func(content string) string {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	old, err := store.Pack(context.Background(), sys.Discard(), tree("old"), "app:1")
	if err != nil {
		t.Fatal(err)
	}
	next, err := store.Pack(context.Background(), sys.Discard(), tree("new"), "next")
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: "0123456789ab", Name: "busy_box", Step: 6, Lower: old.Rootfs}
	if err := state.New(dir, run); err != nil {
		t.Fatal(err)
	}
	if _, moved, err := store.Tag(sys.Discard(), "next", "app:1"); err != nil || !moved.InUse {
		t.Fatalf("Tag onto app:1 while a container runs from its image = %+v, %v; want it kept", moved, err)
	}
	var out, errs bytes.Buffer
	c := &cleaner{n: sys.Discard(), out: &out, errOut: &errs, state: dir}
	c.imageLeftovers()
	if _, err := os.Stat(old.Rootfs); err != nil || c.res.Removed != 0 {
		t.Fatalf("clean removed the unnamed image a container runs from (%v):\n%s", err, out.String())
	}
	// Its workshop killed: the record stays, and so may its overlay, on the
	// image, until clean undoes the run. The image stays too.
	run.WorkshopPid = 1 << 22
	run.LetGo()
	if err := run.Save(); err != nil {
		t.Fatal(err)
	}
	c.imageLeftovers()
	if _, err := os.Stat(old.Rootfs); err != nil || c.res.Removed != 0 {
		t.Fatalf("clean removed the unnamed image a killed run's record names (%v):\n%s", err, out.String())
	}
	if err := run.Forget(); err != nil { // the run undone
		t.Fatal(err)
	}
	// An image that cannot be removed (a mount inside it) is a failure
	// said, and stays for a later clean.
	if os.Getuid() == 0 {
		busy := filepath.Join(old.Rootfs, "busy")
		if err := os.Mkdir(busy, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", busy, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		c.imageLeftovers()
		unix.Unmount(busy, unix.MNT_DETACH)
		if len(c.res.Failed) != 1 || !strings.Contains(errs.String(), "could not remove an image no name points to: image "+old.ShortID()+" (<none>)") {
			t.Errorf("clean of an image it cannot remove: failed %q, want one failure naming it\n%s", errs.String(), out.String())
		}
		errs.Reset()
		c.res.Failed = nil
	}
	c.imageLeftovers()
	if _, err := os.Stat(filepath.Dir(old.Rootfs)); !errors.Is(err, os.ErrNotExist) || errs.Len() > 0 {
		t.Errorf("the unnamed image no container uses is still there (%v), errors %q:\n%s", err, errs.String(), out.String())
	}
	if want := "removed image " + old.ShortID() + " of " + store.Dir(); !strings.Contains(out.String(), want) {
		t.Errorf("clean said:\n%s\nwant a line with %q", out.String(), want)
	}
	imgs, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if img.ID != next.ID {
			t.Errorf("after clean the store lists %s (%s), want only the named image %s", img.ShortID(), img.Ref, next.ShortID())
		}
	}
}

// trackPendingEnv, set, makes TestTrackPendingAndDie a process that records
// a pending path and ends without forgetting it, as a kill -9 ends one.
const trackPendingEnv = "WORKSHOP_TEST_TRACK_PENDING"

func TestTrackPendingAndDie(t *testing.T) {
	v := os.Getenv(trackPendingEnv)
	if v == "" {
		return // only as the helper process below
	}
	stateDir, path, _ := strings.Cut(v, "\n")
	if _, err := state.TrackPending(stateDir, path); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// What an image unpack or export killed halfway left beside its
// destination, wherever that was, clean removes: it is recorded under the
// state dir while it is made. One whose command lives stays; a record that
// names anything else than such a temporary name removes nothing.
func TestCleanRemovesWhatAKilledUnpackLeftBesideItsDir(t *testing.T) {
	stateDir, dest := t.TempDir(), t.TempDir()
	tmp := filepath.Join(dest, ".root.unpack-0123456789ab")
	if err := os.MkdirAll(filepath.Join(tmp, "usr", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dest, "mine")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	clean := func() *cleaner {
		var out, errs bytes.Buffer
		c := &cleaner{n: sys.Discard(), out: &out, errOut: &errs, state: stateDir}
		c.pendingPaths()
		if errs.Len() > 0 {
			t.Errorf("clean failed: %s", errs.String())
		}
		return c
	}
	live, err := state.TrackPending(stateDir, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if c := clean(); c.res.Removed != 0 {
		t.Errorf("clean removed %d things of a live unpack", c.res.Removed)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("clean removed the temporary directory of a live unpack: %v", err)
	}
	live.Done()
	// Killed: its command recorded it, and ended without forgetting it.
	for _, p := range []string{tmp, victim} {
		helper := exec.Command(os.Args[0], "-test.run=^TestTrackPendingAndDie$")
		helper.Env = append(os.Environ(), trackPendingEnv+"="+stateDir+"\n"+p)
		if out, err := helper.CombinedOutput(); err != nil {
			t.Fatalf("the helper that records %s: %v\n%s", p, err, out)
		}
	}
	if c := clean(); c.res.Removed != 2 {
		t.Errorf("clean removed %d things, want the killed unpack's temporary directory and the records' directory, empty", c.res.Removed)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed unpack's %s is still there (%v)", tmp, err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("clean removed %s, which a record named but no unpack makes: %v", victim, err)
	}
	if markers, err := os.ReadDir(state.PendingDir(stateDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the records' directory is still there (%v): %v", err, markers)
	}
	// The next unpack or export makes it again.
	again, err := state.TrackPending(stateDir, tmp)
	if err != nil {
		t.Fatalf("recording a pending path after clean removed the records' directory: %v", err)
	}
	again.Done()
}

// stragglersOf finds a killed step's processes by the namespaces its
// container was in, all of them, and its root: a process in the same
// namespaces but one (a shell chrooted in the same root by hand, which made
// a namespace or two of its own) is not the step's.
func TestStragglersOfNeedsTheContainersNamespaces(t *testing.T) {
	sleep := exec.Command("/bin/sleep", "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS} // a namespace of its own, as a container's
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	ns := map[string]string{}
	for _, name := range []string{"uts", "pid"} {
		id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", sleep.Process.Pid, name))
		if err != nil {
			t.Fatal(err)
		}
		ns[name] = id
	}
	marker := state.Stragglers{Root: "/", Namespaces: ns, Own: []string{"uts"}}
	if got := stragglersOf(marker); !slices.Equal(got, []int{sleep.Process.Pid}) {
		t.Errorf("stragglersOf(%+v) = %v, want the container's process %d", marker, got, sleep.Process.Pid)
	}
	marker.Namespaces["pid"] = "pid:[1]"
	if got := stragglersOf(marker); len(got) != 0 {
		t.Errorf("stragglersOf(%+v) = %v for a process in another PID namespace than the container's, want none", marker, got)
	}
}

// A run's lock held though its workshop is dead (a forked child before
// its execve; here a sleep given the locked descriptor): clean waits for it,
// saying so, and names who holds it, a program not workshop's (so no child
// of it before its execve); 2 s on, it leaves the run, naming the holder.
// It waited in silence, and then said "a process it had just started", of
// whatever held it; later it took every holder for a forked child.
func TestCleanNamesWhoHoldsADeadRunsLock(t *testing.T) {
	for _, letGo := range []bool{true, false} {
		dir := t.TempDir()
		r, sleep := deadRunLockedBy(t, dir)
		if letGo {
			go func() {
				time.Sleep(300 * time.Millisecond)
				sleep.Process.Kill()
			}()
		}
		var narration, out bytes.Buffer
		c := &cleaner{n: sys.New(&narration, sys.Options{}), out: &out, errOut: &out, state: dir}
		c.run(r)
		holder := fmt.Sprintf("pid %d (sleep)", sleep.Process.Pid)
		if letGo {
			if !strings.Contains(narration.String(), "is dead, and "+holder+" still held the run's lock, though not workshop's program") || !strings.Contains(narration.String(), "clean waited") {
				t.Errorf("clean, which waited for %s to let go of a dead run's lock, said:\n%s", holder, narration.String())
			}
			continue
		}
		want := fmt.Sprintf("left container %s (step 6): its workshop (pid %d) is dead, but %s still holds the run's lock, 2s later, though not workshop's program", r.ID, r.WorkshopPid, holder)
		if !strings.Contains(out.String(), want) {
			t.Errorf("clean of a run whose lock a sleep holds, its workshop dead, said:\n%s\nwant %q", out.String(), want)
		}
		if _, err := os.Stat(r.Dir()); err != nil {
			t.Errorf("the run's directory, its lock held: %v", err)
		}
	}
}

// deadRunLockedBy records a run in dir whose workshop is dead and whose
// lock a sleep holds, through a copy of the locked descriptor.
func deadRunLockedBy(t *testing.T, dir string) (*state.Run, *exec.Cmd) {
	t.Helper()
	held := &state.Run{ID: "abababababab", Step: 6}
	if err := state.New(dir, held); err != nil {
		t.Fatal(err)
	}
	const dead = 1<<22 + 1 // above pid_max: no process
	held.WorkshopPid, held.WorkshopStart = dead, 1
	if err := held.Save(); err != nil {
		t.Fatal(err)
	}
	held.LetGo()
	lock, err := os.Open(held.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	sleep.ExtraFiles = []*os.File{lock}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	// Start returns once the execve is past its point of no return, a
	// moment before the kernel names the process after its new program.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if name, _ := state.StatusField(sleep.Process.Pid, "Name"); name == "sleep" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute on, pid %d is not named sleep", sleep.Process.Pid)
		}
	}
	r, err := state.Load(dir, held.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r, sleep
}
