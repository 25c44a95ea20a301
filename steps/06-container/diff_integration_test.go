package container_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// An image without /proc, /dev and /sys: the runtime makes them as mount
// points in the container's layer, and diff leaves them out; it shows what
// the command did.
func TestDiffLeavesOutTheRuntimesMountPoints(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	packBareImage(t, state)
	r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--image", "bare:1", "--keep", "--name", "bare", "--",
		"/bin/sh", "-c", "echo hi > /made-by-the-command; ls /sys/class/net")
	if r.Code != 0 || r.Stdout != "lo\n" {
		t.Fatalf("full run = %d, stdout %q; want its /sys, made for it, showing lo\n%s", r.Code, r.Stdout, r.Stderr)
	}
	d := testbin.Run(t, "", "--state-dir", state, "diff", "bare")
	if d.Code != 0 || d.Stdout != "A /made-by-the-command\n" {
		t.Errorf("diff = %d, %q; want only the command's file", d.Code, d.Stdout)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "clean"); r.Code != 0 || strings.Contains(r.Stderr, "could not") {
		t.Errorf("clean = %d\n%s", r.Code, r.Stderr)
	}
}

// A diff while the container sets up (its init held just after pivot_root,
// with the old root's mount point still in the writable layer, and /proc
// and /dev made there for an image without them) shows none of the
// runtime's mount points. The record named them only later, and never the
// old root's: diff showed "A /.oldroot", "A /proc", "A /dev".
func TestDiffWhileTheContainerSetsUp(t *testing.T) {
	h := newHost(t)
	packBareImage(t, h.state)
	testbin.InWindow(t, []time.Duration{2 * time.Second, 15 * time.Second}, func(hold time.Duration) (faults []string, missed bool) {
		strace, args := testbin.Holding(t, "umount2", hold, h.args("full", "run", "--image", "bare:1", "--name", "held", "--", "/bin/sh", "-c", "true")...)
		w := testbin.Start(t, "", strace, args...)
		rec := h.record(w)
		w.Stderr.WaitFor(t, "pivot_root(") // held in its next call, the old root's umount2
		d := h.run("diff", "held")
		if d.Code != 0 || d.Stdout != "" {
			faults = append(faults, fmt.Sprintf("diff while the container sets up = %d, %q; want nothing (the command has not run)\n%s", d.Code, d.Stdout, d.Stderr))
		}
		missed = !testbin.InSyscall(rec.Pid, unix.SYS_UMOUNT2)
		if r := w.Wait(); r.Code != 0 {
			t.Errorf("full run = %d\n%s", r.Code, r.Stderr)
		}
		return faults, missed
	})
}

// packBareImage packs bare:1 into state: a root of a static busybox as
// /bin/sh, without /proc, /dev or /sys.
func packBareImage(t *testing.T, state string) {
	t.Helper()
	busybox := testbin.NeedTool(t, "busybox")
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", busybox, filepath.Join(root, "bin", "sh")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "image", "pack", root, "bare:1"); r.Code != 0 {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
}
