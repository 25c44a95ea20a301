package container_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// An image without /proc and /dev: the runtime makes them as mount points
// in the container's layer, and diff leaves them out; it shows what the
// command did.
func TestDiffLeavesOutTheRuntimesMountPoints(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", busybox, filepath.Join(root, "bin", "sh")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	state := t.TempDir()
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "image", "pack", root, "bare:1"); r.Code != 0 {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
	r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--image", "bare:1", "--keep", "--name", "bare", "--",
		"/bin/sh", "-c", "echo hi > /made-by-the-command")
	if r.Code != 0 {
		t.Fatalf("full run = %d\n%s", r.Code, r.Stderr)
	}
	d := testbin.Run(t, "", "--state-dir", state, "diff", "bare")
	if d.Code != 0 || d.Stdout != "A /made-by-the-command\n" {
		t.Errorf("diff = %d, %q; want only the command's file", d.Code, d.Stdout)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "clean"); r.Code != 0 || strings.Contains(r.Stderr, "could not") {
		t.Errorf("clean = %d\n%s", r.Code, r.Stderr)
	}
}
