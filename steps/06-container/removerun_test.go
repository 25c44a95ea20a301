package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
)

// When a run's cgroup could not be removed, its record must stay, naming
// the cgroup, so that `workshop clean` can retry; everything else goes.
func TestTeardownKeepsTheRecordOfALeftCgroup(t *testing.T) {
	dir := t.TempDir()
	for _, left := range []bool{false, true} {
		rec := &state.Run{ID: map[bool]string{false: "aaaa00000001", true: "aaaa00000002"}[left], Step: 6}
		if err := state.New(dir, rec); err != nil {
			t.Fatal(err)
		}
		upper := filepath.Join(rec.Dir(), "upper")
		os.MkdirAll(filepath.Join(upper, "x"), 0o755)
		rec.Dirs, rec.Cgroups, rec.Pid = []string{upper}, []string{"/sys/fs/cgroup/memory/workshop/" + rec.ID}, 4242
		rec.Save()

		(&teardown{n: sys.Discard(), rec: rec}).finish(left)

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

// release, at the container's end, unmounts and starts removing the layer;
// finish waits for that removal before it removes the record. A kept layer
// stays, and its record with it.
func TestTeardownReleaseThenFinish(t *testing.T) {
	dir := t.TempDir()
	for _, keep := range []bool{false, true} {
		rec := &state.Run{ID: map[bool]string{false: "bbbb00000001", true: "bbbb00000002"}[keep], Step: 6}
		if err := state.New(dir, rec); err != nil {
			t.Fatal(err)
		}
		upper, work := filepath.Join(rec.Dir(), "upper"), filepath.Join(rec.Dir(), "work")
		os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
		os.MkdirAll(filepath.Join(work, "work", "incompat", "volatile"), 0o755)
		rec.Dirs = []string{upper, work}
		rec.Save()

		td := &teardown{n: sys.Discard(), rec: rec, keep: keep}
		td.release()
		td.release() // Ended, then finish's own call: once only
		td.finish(false)

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
