package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// When a run's cgroup could not be removed, its record must stay, naming
// the cgroup, so that `workshop clean` can retry; everything else goes,
// where the container ended with its group empty (Ended, release).
func TestTeardownKeepsTheRecordOfALeftCgroup(t *testing.T) {
	dir := t.TempDir()
	for _, left := range []bool{false, true} {
		rec := recordRun(t, dir, map[bool]string{false: "aaaa00000001", true: "aaaa00000002"}[left], "upper/x")
		upper := rec.Dirs[0]
		rec.Cgroups, rec.Pid = []string{"/sys/fs/cgroup/memory/workshop/" + rec.ID}, 4242
		rec.Save()

		td := &teardown{n: sys.Discard(), rec: rec}
		td.release() // the group was empty at the end; its removal failed after
		td.finish(left, false)

		if _, err := os.Stat(upper); err == nil {
			t.Errorf("left=%v: the writable layer is still there", left)
		}
		got, err := state.Load(dir, rec.ID)
		switch {
		case !left && err == nil:
			t.Errorf("the record of a run that removed everything is still there")
		case left && err != nil:
			t.Errorf("the record of a run whose cgroup is left is gone: %v", err)
		case left && (len(got.Cgroups) != 1 || got.Pid != 0 || len(got.Dirs) != 0):
			t.Errorf("kept record = cgroups %q, pid %d, dirs %q; want the cgroup only", got.Cgroups, got.Pid, got.Dirs)
		}
	}
}

// Where processes of the container were left in its group (Ended never
// called: one the kill could not end), they may still write through its
// root: the mount and the writable layer stay, and the record names them
// with the group, for clean, which removes nothing until the group is gone.
// (The layer was removed under them, its first entries by full path.)
func TestTeardownLeavesTheRootOfLeftProcesses(t *testing.T) {
	dir := t.TempDir()
	rec := recordRun(t, dir, "aaaa00000003", "upper/x", "rootfs")
	rec.Cgroups, rec.Pid = []string{"/sys/fs/cgroup/memory/workshop/" + rec.ID}, 4242
	rec.Mounts = []string{filepath.Join(rec.Dir(), "rootfs")}
	rec.Save()
	var out strings.Builder
	(&teardown{n: sys.New(&out, sys.Options{}), rec: rec, layer: &Layer{Merged: rec.Mounts[0]}}).finish(true, true)

	for _, d := range rec.Dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s is gone while processes of the container are left: %v", d, err)
		}
	}
	if strings.Contains(out.String(), "umount") || strings.Contains(out.String(), "unlinkat") {
		t.Errorf("the teardown unmounted or removed something:\n%s", out.String())
	}
	got, err := state.Load(dir, rec.ID)
	if err != nil {
		t.Fatalf("the record is gone: %v", err)
	}
	if len(got.Cgroups) != 1 || len(got.Mounts) != 1 || len(got.Dirs) != 2 || got.Pid != 0 || !got.ProcessesLeft {
		t.Errorf("kept record = cgroups %q, mounts %q, dirs %q, pid %d, processes left %v; want all named, the pid cleared, processes left", got.Cgroups, got.Mounts, got.Dirs, got.Pid, got.ProcessesLeft)
	}
}

// release, at the container's end, unmounts and starts removing the layer;
// finish waits for that removal before it removes the record. A kept layer
// stays, and its record with it.
func TestTeardownReleaseThenFinish(t *testing.T) {
	dir := t.TempDir()
	for _, keep := range []bool{false, true} {
		rec := recordRun(t, dir, map[bool]string{false: "bbbb00000001", true: "bbbb00000002"}[keep], "upper/etc", "work/work/incompat/volatile")
		upper := rec.Dirs[0]

		td := &teardown{n: sys.Discard(), rec: rec, keep: keep}
		td.release()
		td.release() // Ended, then finish's own call: once only
		td.finish(false, false)

		_, uerr := os.Stat(upper)
		_, rerr := state.Load(dir, rec.ID)
		switch {
		case !keep && (uerr == nil || rerr == nil):
			t.Errorf("a throwaway run left its layer (stat: %v) or its record (load: %v)", uerr, rerr)
		case keep && (uerr != nil || rerr != nil):
			t.Errorf("a kept run lost its layer (stat: %v) or its record (load: %v)", uerr, rerr)
		}
	}
}

// recordRun records a step 6 run in dir with a writable layer: each path
// (relative to the run's directory) is made, and its first element is one
// of the run's Dirs.
func recordRun(t *testing.T, dir, id string, paths ...string) *state.Run {
	t.Helper()
	rec := &state.Run{ID: id, Step: 6}
	if err := state.New(dir, rec); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(rec.Dir(), p), 0o755); err != nil {
			t.Fatal(err)
		}
		top, _, _ := strings.Cut(p, "/")
		rec.Dirs = append(rec.Dirs, filepath.Join(rec.Dir(), top))
	}
	if err := rec.Save(); err != nil {
		t.Fatal(err)
	}
	return rec
}

// A generated name is never one a container of the state dir has: with
// every adjective_noun taken, the name gets a number.
func TestFreeNameNeverTaken(t *testing.T) {
	dir := t.TempDir()
	i := 0
	for _, a := range adjectives {
		for _, n := range nouns {
			id := fmt.Sprintf("%012x", i)
			i++
			if err := state.New(dir, &state.Run{ID: id, Name: a + "_" + n, Step: 6}); err != nil {
				t.Fatal(err)
			}
		}
	}
	name := freeName(dir)
	if !strings.HasSuffix(name, "_2") || !namePattern().MatchString(name) {
		t.Errorf("freeName with every name taken = %q, want one with _2", name)
	}
}

// A run that waited for the names' lock on a containers directory that a
// clean removed meanwhile locks the directory made again, not the removed
// one, which no other run would see.
func TestLockNamesAfterTheDirectoryWasRemoved(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, "containers")
	release := testbin.LockedDir(t, dir, 0o700)
	got := make(chan func())
	go func() {
		unlock, err := lockNames(state)
		if err != nil {
			t.Error(err)
		}
		got <- unlock
	}()
	time.Sleep(50 * time.Millisecond) // lockNames waits on the held lock
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	release() // the lock goes: lockNames gets the removed directory's
	unlock := <-got
	defer unlock()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatalf("the containers directory was not made again: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("the directory made again is not locked by lockNames (flock = %v)", err)
	}
}
