package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// A checked program is the student's, and may be what an image put in the
// root: it runs as root of a user namespace of its own, the host's nobody
// (a file it makes in a world-writable directory is nobody's on the host),
// and a child it leaves behind does not outlive it, nor hold the check (it
// held it until the check's 10 s, or for ever: a plain chroot's child kept
// the output open, and ran on as host root).
func TestRunInIsolatesTheProgram(t *testing.T) {
	testbin.NeedRoot(t)
	if !userNamespaces() {
		t.Fatalf("this test needs user namespaces, which this kernel refuses")
	}
	root := t.TempDir()
	testbin.BusyboxRoot(t, root, []string{"tmp", "dev"}, []string{"sh", "touch", "sleep", "echo"})
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	// The shell sends a background job's input to /dev/null.
	if err := syscall.Mknod(filepath.Join(root, "dev", "null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if _, err := runIn(context.Background(), root, "/bin/touch", "/tmp/made"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "tmp", "made"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
		t.Errorf("a file the checked program made is owned by %d:%d on the host, want nobody (%d)", st.Uid, st.Gid, nobody)
	}

	start := time.Now()
	out, err := runIn(context.Background(), root, "/bin/sh", "-c", "/bin/sleep 100 & echo started")
	if err != nil || strings.TrimSpace(out) != "started" {
		t.Errorf("runIn(a program that leaves a child) = %q, %v", out, err)
	}
	// The child sleeps 100 s: a bound far below that, far above a slow
	// machine's start of a program.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("runIn waited %v for the child the program left", took)
	}
	// Nothing is left running in the root.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := rootedIn(root)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left running in the root: %v", left)
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Ctrl-C (the context ends): the program is killed at once.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := runIn(ctx, root, "/bin/sleep", "100"); err == nil {
		t.Errorf("runIn, stopped, = nil error")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("runIn ran on %v after its context ended", took)
	}
}

// The checked program has no supplementary group of the caller's: sudo's
// root keeps group 0, which would open root's 0660 sockets and 0640 files
// to a program that climbs out of the chroot. And the root may sit below a
// directory only its owner may enter (a home, 0700 or 0750): the check,
// run by root, still reaches it, as the student's own chroot does.
func TestRunInGroupsAndAPrivateHome(t *testing.T) {
	testbin.NeedRoot(t)
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(home, "my-new-root")
	testbin.BusyboxRoot(t, root, nil, []string{"id"})
	old, err := syscall.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setgroups([]int{0, 4242}); err != nil {
		t.Fatal(err)
	}
	out, err := runIn(context.Background(), root, "/bin/id", "-G")
	if err := syscall.Setgroups(old); err != nil {
		t.Fatal(err)
	}
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("id -G of the checked program, under a 0700 home, the caller in groups 0 and 4242 = %q, %v; want 0 alone", out, err)
	}
}

// rootedIn lists the processes whose root directory is dir or under it.
func rootedIn(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && (r == dir || strings.HasPrefix(r, dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Ctrl-C during lab 5's check: the program it runs (here one that would
// run for 100 s) is killed, its unpacked copy of the archive removed, and
// workshop ends with 130 and a sentence. It hung, then left the copy and
// the program running as host root.
func TestLab5CheckInterrupted(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "my-new-root")
	testbin.BusyboxRoot(t, root, []string{"dev"}, []string{"sh", "sleep"})
	if err := os.WriteFile(filepath.Join(root, "bin", "bash"), []byte("#!/bin/sh\n/bin/sleep 100\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, dir, "tar -C my-new-root -cf dockercontainer.tar .")
	state := t.TempDir()
	lab := testbin.Start(t, dir, testbin.Bin(t), "--state-dir", state, "lab", "5", "check")
	deadline := time.Now().Add(10 * time.Second)
	for copies(t, state) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // into the program's run
	lab.Signal(syscall.SIGINT)
	r := lab.Wait()
	if r.Code != 130 || !strings.Contains(r.Stderr, "interrupted by SIGINT: the check stopped, and what it made was removed") {
		t.Errorf("lab 5 check, Ctrl-C = %d, stderr %q; want 130 and the sentence", r.Code, r.Stderr)
	}
	if n := copies(t, state); n != 0 {
		t.Errorf("%d unpacked copies of the archive left in %s", n, state)
	}
	for _, pid := range rootedIn(state) {
		t.Errorf("pid %d is left running in the check's copy", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// copies counts lab 5's unpacked copies of the archive in dir (the state
// dir: never the student's, see runFromArchive).
func copies(t *testing.T, dir string) int {
	m, err := filepath.Glob(filepath.Join(dir, ".workshop-lab5-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// Where no user namespace can be made, the checked program still runs as
// the host's nobody, not as root (which climbed out of the chroot with
// every capability, and passed the check).
func TestRunInIsNobodyWithoutUserNamespaces(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	testbin.BusyboxRoot(t, root, nil, []string{"id"})
	testbin.Chmod(t, 0o755, filepath.Dir(root))
	defer func(was func() bool) { userNamespaces = was }(userNamespaces)
	for _, userNS := range []bool{true, false} {
		userNamespaces = func() bool { return userNS }
		out, err := runIn(context.Background(), root, "/bin/id")
		if err != nil {
			t.Fatalf("user namespace %v: %v", userNS, err)
		}
		want := "uid=65534 gid=65534" // the host's nobody, outside
		if userNS {
			want = "uid=0 gid=0" // root of its namespace, the host's nobody
		}
		if !strings.HasPrefix(out, want) || strings.Contains(out, "groups=0") {
			t.Errorf("user namespace %v: id says %q, want %q and no group 0", userNS, out, want)
		}
	}
}

// A program that prints for ever is stopped once its output passes
// maxOutput: it grew in root's memory for the ten seconds (5 GB).
func TestRunInStopsEndlessOutput(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	testbin.BusyboxRoot(t, root, nil, []string{"yes"})
	// A minute to run: the 64 kB, not the time, must stop it, however
	// slow the machine (the emulated VM stalls for seconds).
	defer func(was time.Duration) { runLimit = was }(runLimit)
	runLimit = time.Minute
	start := time.Now()
	_, err := runIn(context.Background(), root, "/bin/yes", "bin")
	if err == nil || !strings.Contains(err.Error(), "/bin/yes printed more than 64 kB, and was stopped") {
		t.Errorf("runIn of an endless printer = %v", err)
	}
	// Long before its minute (a slow machine takes a few seconds to
	// print 64 kB).
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("it was stopped after %v, not at once", d)
	}
}

// The namespaces the check runs a program in, refused by the kernel (a
// limit reached): the check's failure, 125, not "your program failed".
func TestCannotCheck(t *testing.T) {
	err := cannotCheck(fmt.Errorf("run: %w", &SandboxError{Err: syscall.ENOSPC}))
	if exit.Status(err) != exit.ToolFailed || !strings.Contains(err.Error(), "the check could not make the namespaces it runs your program in") {
		t.Errorf("cannotCheck(SandboxError) = %v (%d)", err, exit.Status(err))
	}
	if cannotCheck(syscall.ENOENT) != nil {
		t.Errorf("cannotCheck of an execve's ENOENT is not nil")
	}
	if !sandboxRefused(syscall.ENOSPC) || sandboxRefused(syscall.ENOENT) {
		t.Errorf("sandboxRefused: ENOSPC is the clone's, ENOENT the execve's")
	}
}

// A program that runs past the check's limit is stopped, and the check
// says that is why (it said "signal: killed").
func TestRunInSaysItsTimeRanOut(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	testbin.BusyboxRoot(t, root, nil, []string{"sleep"})
	defer func(was time.Duration) { runLimit = was }(runLimit)
	runLimit = 200 * time.Millisecond
	_, err := runIn(context.Background(), root, "/bin/sleep", "5")
	if err == nil || err.Error() != "/bin/sleep ran past the check's 200ms, and was stopped" {
		t.Errorf("runIn of a program past its time = %v", err)
	}
}

// Run from a user namespace that maps root alone (unshare --user
// --map-root-user, as doctor's fix for a mount namespace suggests), the
// check cannot run a program as nobody: its failure, 125, not the
// student's ("execve … failed: operation not permitted", exit 1).
func TestLabCheckWhereNobodyIsNoUser(t *testing.T) {
	testbin.NeedRoot(t)
	unshare := testbin.NeedTool(t, "unshare")
	dir := t.TempDir()
	testbin.BusyboxRoot(t, filepath.Join(dir, "my-new-root"), nil, []string{"ls"})
	cmd := exec.Command(unshare, "--user", "--map-root-user", "--mount", testbin.Bin(t), "--state-dir", t.TempDir(), "lab", "1", "check", "--dir", dir)
	r := testbin.RunCmd(t, cmd, time.Minute)
	if r.Code != 125 || !strings.Contains(r.Stderr, "nobody (65534), whom it runs the program as, is no user of the user namespace workshop runs in") {
		t.Errorf("lab 1 check where nobody is unmapped = %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// A library others may run but not read (0711) is closed to the checked
// program all the same: the loader reads it. A 0711 program is not.
func TestClosedToOthers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "my-new-root")
	for name, mode := range map[string]os.FileMode{"bin/prog": 0o711, "lib/libx.so.1": 0o711} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	testbin.Chmod(t, 0o755, root)
	if got := closedToOthers(root); !strings.Contains(got, "others may not read my-new-root/lib/libx.so.1 (a library of mode 0711)") {
		t.Errorf("closedToOthers = %q, want the 0711 library named", got)
	}
	os.Remove(filepath.Join(root, "lib", "libx.so.1"))
	if got := closedToOthers(root); got != "" {
		t.Errorf("closedToOthers with a 0711 program only = %q, want none", got)
	}
}
