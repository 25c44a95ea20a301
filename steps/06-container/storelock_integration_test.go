package container_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A run that waits for the image store's lock (another workshop adding an
// image) says so, and a Ctrl-C stops the wait at once, with 130 and one
// sentence, nothing made. Before, the run caught SIGINT from its start and
// sat in a blocking flock(2) until the lock was free, deaf to Ctrl-C.
func TestCtrlCWhileWaitingForTheStoreLock(t *testing.T) {
	h := newHost(t)
	if r := h.full("--", "/bin/true"); r.Code != 0 { // the base image, made once
		t.Fatalf("first run = exit %d\n%s", r.Code, r.Stderr)
	}
	lock, err := os.OpenFile(filepath.Join(h.state, "images", "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	r := h.start("full", "run", "--", "/bin/true")
	r.Stderr.WaitFor(t, "==> waiting for the image store's lock")
	// The lock stays held: a run that did not stop waiting would not end.
	r.Signal(syscall.SIGINT)
	res := r.Wait()
	oneSentence(t, "full run interrupted while waiting for the store's lock", res, 130, "interrupted by SIGINT while waiting for the image store's lock")
	if entries, _ := os.ReadDir(filepath.Join(h.state, "containers")); len(entries) > 0 {
		t.Errorf("the interrupted run left %d container record(s)", len(entries))
	}

	// Once the lock is free, a waiting run goes on by itself.
	r = h.start("full", "run", "--", "/bin/true")
	r.Stderr.WaitFor(t, "==> waiting for the image store's lock")
	unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if res := r.Wait(); res.Code != 0 {
		t.Errorf("the run that waited = exit %d after the lock was freed\n%s", res.Code, res.Stderr)
	}
}

// The first run on a machine makes the base image (seconds: step 2's copy,
// then a pack and an unpack). A Ctrl-C meanwhile stops it with 130 and one
// sentence, and the store is left as it was: no image, nothing half made.
func TestCtrlCWhileTheBaseImageIsMade(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--", "/bin/true")
	r.Stderr.WaitFor(t, "is not in the store yet: making it once")
	r.Signal(syscall.SIGINT)
	res := r.Wait()
	oneSentence(t, "a first run interrupted while it made the base image", res, 130, "interrupted by SIGINT before the container started")
	if strings.Contains(res.Stderr, `execve("/bin/true"`) {
		t.Errorf("the interrupted run went on to run the container:\n%s", res.Stderr)
	}
	entries, _ := os.ReadDir(filepath.Join(h.state, "images"))
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("the interrupted run left %s in the image store", e.Name())
		}
	}
	if ls := h.run("image", "ls"); ls.Code != 0 || strings.Contains(ls.Stdout, "base") {
		t.Errorf("image ls after the interrupted first run = exit %d:\n%s", ls.Code, ls.Stdout)
	}
	if entries, _ := os.ReadDir(filepath.Join(h.state, "containers")); len(entries) > 0 {
		t.Errorf("the interrupted run left %d container record(s)", len(entries))
	}
}
