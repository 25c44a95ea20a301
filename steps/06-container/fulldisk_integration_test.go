package container_test

import (
	"os"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// A --keep run whose container fills the state dir's filesystem: the last
// update of its record fails for want of room. The command's status stays
// the run's, and the failure is said, --quiet or not: `ps -a` would show
// the record as a killed workshop's, with nothing said.
func TestAFullDiskAtTheEndIsSaid(t *testing.T) {
	h := newHost(t)
	if err := unix.Mount("tmpfs", h.state, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(h.state, unix.MNT_DETACH) })
	if r := h.full("--quiet", "--", "/bin/true"); r.Code != 0 { // the base image, made once
		t.Fatalf("first run = exit %d\n%s", r.Code, r.Stderr)
	}
	r := h.full("--quiet", "--keep", "--", "/bin/sh", "-c", "cat /dev/zero > /big 2>/dev/null; echo $((6*7))")
	if r.Code != 0 || r.Stdout != "42\n" {
		t.Fatalf("the run that filled the disk = exit %d, stdout %q, want 0 and its output\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "its record could not be updated") || !strings.Contains(r.Stderr, "no space left on device") {
		t.Errorf("stderr = %q, want the record's failed update said", r.Stderr)
	}
	if r := h.run("clean"); r.Code != 0 {
		t.Errorf("clean after it = exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The tmpfs itself is the one mount there.
	if m := testbin.MountsUnder(t, h.state); len(m) != 1 {
		t.Errorf("mounts under the state directory after clean: %q, want its tmpfs alone", m)
	}
	if entries, _ := os.ReadDir(state.ContainersDir(h.state)); len(entries) > 0 {
		t.Errorf("clean left %d container(s)", len(entries))
	}
}
