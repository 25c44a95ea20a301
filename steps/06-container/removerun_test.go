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
func TestRemoveRunKeepsTheRecordOfALeftCgroup(t *testing.T) {
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

		removeRun(sys.Discard(), rec, nil, false, left)

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
