package lab

import (
	"fmt"
	"os"
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
	// Wait until the chrooted shell is there (it is a grandchild): a process
	// rooted in my-new-root that runs the root's bash, so chroot has exec'd
	// it. unshare made the namespaces (and wrote the uid map) before that,
	// so what the check looks at is settled by then. The deadline is
	// generous: a loaded machine or the TCG VM can be slow to start it.
	root := filepath.Join(dir, "my-new-root")
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if runsShell(root) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: after a minute, no process rooted in my-new-root runs its /bin/bash", command)
}

// runsShell reports whether some process rooted at root runs root's
// /bin/bash (/proc/PID/exe, read from the host, is the path in the root).
func runsShell(root string) bool {
	pids, _ := processesRootedAt(root)
	bash, err := filepath.EvalSymlinks(filepath.Join(root, "bin", "bash"))
	if err != nil {
		return false
	}
	for _, pid := range pids {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == bash {
			return true
		}
	}
	return false
}

func TestLab3ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "unshare")

	// Each case is what the student left running in another terminal ("" is
	// nothing), and what the check's report must say of it.
	for _, tc := range []struct {
		name, running, says string
		done                bool
		notSays             string
	}{
		// The hint is the whole command, as the student can paste it.
		{"nothing running", "", "start a shell with sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash and leave it running", false, ""},
		// No unshare at all: its --pid is not said to need --fork.
		{"chroot without unshare", "chroot my-new-root /bin/bash", "unshare --mount", false, "needs --fork too"},
		{"pid without fork", "unshare --mount --pid chroot my-new-root /bin/bash", "needs --fork too", false, ""},
		// Without --fork the shell stays in the host's PID namespace; its
		// first child is PID 1 of the new one, and is not what is judged.
		{"pid without fork, a child running", `unshare --mount --uts --ipc --net --pid --user --map-root-user chroot my-new-root /bin/bash -c '/bin/bash -c "read x"; echo done'`, "needs --fork too", false, ""},
		{"mount and pid only", "unshare --mount --pid --fork chroot my-new-root /bin/bash", "unshare --uts gives the shell a hostname of its own", false, ""},
		{"no user namespace", "unshare --mount --uts --ipc --net --pid --fork chroot my-new-root /bin/bash", "shares the host's user namespace", false, ""},
		{"the walkthrough's command", "unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash", "it is PID 1", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			populateBash(t, dir)
			if tc.running != "" {
				startShell(t, dir, tc.running)
			}
			if strings.Contains(tc.name, "a child running") {
				waitForRooted(t, filepath.Join(dir, "my-new-root"), 2)
			}
			r, _ := Check(3, Options{Dir: dir, StateDir: t.TempDir()})
			if r.Done() != tc.done {
				t.Errorf("Done() = %v, want %v; report\n%s", r.Done(), tc.done, findingsText(r))
			}
			if !strings.Contains(findingsText(r), tc.says) {
				t.Errorf("the report does not say %q:\n%s", tc.says, findingsText(r))
			}
			if tc.notSays != "" && strings.Contains(findingsText(r), tc.notSays) {
				t.Errorf("the report says %q:\n%s", tc.notSays, findingsText(r))
			}
		})
	}
}

// An earlier try left open (no user namespace) beside the right one: the
// right one is judged, whichever was started first.
func TestLab3TwoShells(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "unshare")
	const partial = "unshare --mount --uts --ipc --net --pid --fork chroot my-new-root /bin/bash"
	const whole = "unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash"
	for _, order := range [][]string{{partial, whole}, {whole, partial}} {
		dir := t.TempDir()
		populateBash(t, dir)
		startShell(t, dir, order[0])
		startShell(t, dir, order[1])
		waitForRooted(t, filepath.Join(dir, "my-new-root"), 2)
		r, _ := Check(3, Options{Dir: dir, StateDir: t.TempDir()})
		if text := findingsText(r); !r.Done() || !strings.Contains(text, "of 2 shells there, the one with the most namespaces of its own") {
			t.Errorf("%q, then %q: report\n%s", order[0], order[1], text)
		}
	}
}

// waitForRooted waits until n processes are rooted at root.
func waitForRooted(t *testing.T, root string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pids, _ := processesRootedAt(root); len(pids) >= n {
			return
		}
	}
	t.Fatalf("after a minute, fewer than %d processes are rooted at %s", n, root)
}

// A shell workshop's step 3 started in my-new-root is not the exercise,
// which is to start one with unshare: its namespaces are all there, but
// workshop made them.
func TestLab3NotWorkshopsOwnContainer(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	startShell(t, dir, testbin.Bin(t)+" --quiet --state-dir "+t.TempDir()+" step 3 --root my-new-root -- /bin/bash")
	r, err := Check(3, Options{Dir: dir, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if text := findingsText(r); r.Done() || !strings.Contains(text, "but a workshop command started it") {
		t.Errorf("lab 3 check of workshop's step 3 container: report\n%s", text)
	}
}
