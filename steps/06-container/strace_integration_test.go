package container_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Every line a full run narrates is in strace's record of the same run, with
// the same path and result: making the base image on first use (step 2's
// copies, step 5's pack and unpack), the overlay mount, the cgroup's files,
// the clone, the uid maps, and the child's mounts, pivot_root, umount2 of
// the old root and execve; then the removal of it all.
func TestFullRunNarrationMatchesStrace(t *testing.T) {
	h := newHost(t)
	r := stracecheck.Run(t, "--state-dir", h.state, "full", "run", "--memory", "80M", "--pids", "64", "--", "/bin/sh", "-c", "echo hi")
	if r.Code != 0 || r.Stdout != "hi\n" {
		t.Errorf("full run under strace = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"making it once", "copy_file_range(", "renameat(", `mount("overlay", `, "pids.max", "pivot_root(", `[pid 1] umount2("/.oldroot", MNT_DETACH) = 0`, "umount2(\"" + h.state} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration checked against strace lacks %q", want)
		}
	}
	id := startedOf(t, r.Stderr).ID
	// The writable layer is removed as rm -rf would, each directory's
	// last call shown (and so checked against strace's).
	for _, d := range []string{"upper", "work", "rootfs"} {
		want := `unlinkat(AT_FDCWD, "` + filepath.Join(h.state, "containers", id, d) + `", AT_REMOVEDIR) = 0`
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration lacks the removal of the layer's %s: %s", d, want)
		}
	}
	h.nothingLeft(id)

	// The second run, the image already there, with --keep, and a
	// command that fails.
	r = stracecheck.Run(t, "--state-dir", h.state, "full", "run", "--keep", "--", "/no/such/program")
	if r.Code != 127 {
		t.Errorf("full run -- /no/such/program under strace = exit %d\n%s", r.Code, r.Stderr)
	}
}

// workshop kill's narration (the pidfd it opens on the container's first
// process, the signal sent through it) is what strace records of it, and
// it sends no signal it does not show.
func TestKillNarrationMatchesStrace(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--name", "traced", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	for _, sig := range []string{"TERM", "KILL"} {
		k := stracecheck.Run(t, "--state-dir", h.state, "kill", "--signal", sig, "traced")
		if k.Code != 0 {
			t.Fatalf("kill --signal %s under strace = exit %d\n%s", sig, k.Code, k.Stderr)
		}
		if want := fmt.Sprintf("pidfd_open(%d, 0) = ", rec.Pid); !strings.Contains(k.Stderr, want) || !strings.Contains(k.Stderr, ", SIG"+sig+", NULL, 0) = 0") {
			t.Errorf("kill --signal %s: the narration lacks its pidfd_open and pidfd_send_signal:\n%s", sig, k.Stderr)
		}
	}
	if res := r.Wait(); res.Code != 137 {
		t.Errorf("the killed run = exit %d, want 137\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// Where pidfd_open fails (ENOSYS before Linux 5.3; EPERM under a seccomp
// filter that refuses calls it does not know, as an older Docker's did),
// workshop kill says so and sends kill(2) by pid. strace makes it fail.
func TestKillWithoutPidfd(t *testing.T) {
	h := newHost(t)
	strace := testbin.NeedTool(t, "strace")
	for _, errno := range []string{"ENOSYS", "EPERM"} {
		r := h.start("full", "run", "--", "/bin/sleep", "600")
		rec := h.record(r)
		r.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
		cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=pidfd_open", "-e", "inject=pidfd_open:error=" + errno, testbin.Bin(t)}, h.args("kill", rec.ID)...)...)
		k := testbin.RunCmd(t, cmd, time.Minute)
		want := fmt.Sprintf("pidfd_open(%d, 0) = -1 %s", rec.Pid, errno)
		if k.Code != 0 || !strings.Contains(k.Stderr, want) || !strings.Contains(k.Stderr, "==> no pidfd (") ||
			!strings.Contains(k.Stderr, fmt.Sprintf("kill(%d, SIGKILL) = 0", rec.Pid)) {
			t.Errorf("kill with pidfd_open failing with %s = exit %d\n%s\nwant 0, %q, the note and kill(2)", errno, k.Code, k.Stderr, want)
			h.run("kill", rec.ID) // not to wait for the sleep
		}
		if res := r.Wait(); res.Code != 137 {
			t.Errorf("the run killed without a pidfd = exit %d, want 137\n%s", res.Code, res.Stderr)
		}
		h.nothingLeft(rec.ID)
	}
}
