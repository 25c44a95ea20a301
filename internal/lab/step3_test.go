package lab

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// populateBash does step 2's exercise for bash, by hand: the binary, every
// library ldd names, and the loader.
func populateBash(t *testing.T, dir string) {
	t.Helper()
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/bash my-new-root/bin/")
	libs, loader := lddPaths(sh(t, dir, "ldd /bin/bash"))
	for _, f := range append(libs, loader) {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(f)+" && cp -L "+f+" my-new-root"+f)
	}
}

// startShell starts a command line as the student would in another terminal
// and leaves it running (its stdin stays open) until the test ends.
func startShell(t *testing.T, dir, command string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Wait until the chrooted shell is there (it is a grandchild).
	for i := 0; i < 100; i++ {
		if pids, _ := processesRootedAt(filepath.Join(dir, "my-new-root")); len(pids) > 0 {
			time.Sleep(50 * time.Millisecond) // let unshare finish its setup
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no process rooted in my-new-root appeared", command)
}

func TestLab3ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "unshare")

	t.Run("nothing running", func(t *testing.T) {
		dir := t.TempDir()
		populateBash(t, dir)
		r, _ := Check(3, Options{Dir: dir})
		if r.Done() || !strings.Contains(findingsText(r), "no running process") {
			t.Errorf("report\n%s", findingsText(r))
		}
	})
	t.Run("chroot without unshare", func(t *testing.T) {
		dir := t.TempDir()
		populateBash(t, dir)
		startShell(t, dir, "chroot my-new-root /bin/bash")
		r, _ := Check(3, Options{Dir: dir})
		if r.Done() || !strings.Contains(findingsText(r), "unshare --mount") {
			t.Errorf("report\n%s", findingsText(r))
		}
	})
	t.Run("pid without fork", func(t *testing.T) {
		dir := t.TempDir()
		populateBash(t, dir)
		startShell(t, dir, "unshare --mount --pid chroot my-new-root /bin/bash")
		r, _ := Check(3, Options{Dir: dir})
		if r.Done() || !strings.Contains(findingsText(r), "--fork") {
			t.Errorf("report\n%s", findingsText(r))
		}
	})
	t.Run("the walkthrough's command", func(t *testing.T) {
		dir := t.TempDir()
		populateBash(t, dir)
		startShell(t, dir, "unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash")
		r, _ := Check(3, Options{Dir: dir})
		if !r.Done() {
			t.Errorf("the exercise is done, but the check says\n%s", findingsText(r))
		}
		if !strings.Contains(findingsText(r), "it is PID 1") {
			t.Errorf("the report does not say the shell is PID 1 inside:\n%s", findingsText(r))
		}
	})
}
