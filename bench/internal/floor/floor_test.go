package floor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A Prepare that fails part way (here the overlay mount, its lower
// directory missing) returns the error and undoes what it made: it used to
// call Undo on the nil it was about to return, and panic with the layer
// left behind.
func TestPrepareFailsCleanly(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer")
	s, err := Prepare("floortest", filepath.Join(dir, "no-such-root"), layer)
	if err == nil {
		s.Undo()
		t.Fatal("Prepare on a missing root succeeded")
	}
	if s != nil {
		t.Errorf("Prepare returned a setup with its error %v", err)
	}
	if _, err := os.Lstat(layer); !os.IsNotExist(err) {
		t.Errorf("the layer %s is left behind (lstat: %v)", layer, err)
	}
	if m := testbin.MountsUnder(t, dir); len(m) != 0 {
		t.Errorf("mounts left under %s: %q", dir, m)
	}
}

// A Prepare that succeeds makes the overlay and both groups, and Undo
// removes them all.
func TestPrepareAndUndo(t *testing.T) {
	testbin.NeedRoot(t)
	for _, h := range []string{"memory", "pids"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h, "tasks")); err != nil {
			t.Skipf("no cgroup v1 %s hierarchy here: the floors run on hybrid hosts only", h)
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer")
	s, err := Prepare("floortest", root, layer)
	if err != nil {
		t.Fatal(err)
	}
	if len(testbin.MountsUnder(t, dir)) != 1 || len(s.Groups) != 2 {
		s.Undo()
		t.Fatalf("Prepare made %d mounts under %s and %d groups, want 1 and 2", len(testbin.MountsUnder(t, dir)), dir, len(s.Groups))
	}
	for _, g := range s.Groups {
		if _, err := os.Stat(g); err != nil {
			t.Errorf("group %s: %v", g, err)
		}
	}
	s.Undo()
	if m := testbin.MountsUnder(t, dir); len(m) != 0 {
		t.Errorf("mounts left under %s: %q", dir, m)
	}
	for _, p := range append([]string{layer}, s.Groups...) {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left behind (lstat: %v)", p, err)
		}
	}
}
