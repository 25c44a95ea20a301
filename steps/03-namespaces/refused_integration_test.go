package namespaces_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// TestKernelRefusesNamespaces runs step 3 where no user namespace may be
// made (user.max_user_namespaces is 0 inside an outer user namespace, so
// the host is not touched): one sentence that sends the student to
// `workshop doctor`, exit 125, no stack trace.
func TestKernelRefusesNamespaces(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "unshare")
	busybox := testbin.NeedTool(t, "busybox")
	root := t.TempDir()
	if err := os.MkdirAll(root+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", busybox, root+"/bin/true").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	// No user namespace: the clone is refused. No cgroup namespace: the
	// child's own unshare is, after the clone.
	for _, kind := range []string{"user", "cgroup"} {
		state := t.TempDir()
		script := "echo 0 > /proc/sys/user/max_" + kind + "_namespaces && exec " + testbin.Bin(t) +
			" --state-dir " + state + " -q step 3 --root " + root + " -- /bin/true"
		cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 125 {
			t.Fatalf("step 3 without %s namespaces: %v, want exit 125\n%s", kind, err, out)
		}
		if !strings.Contains(string(out), "'sudo workshop --state-dir "+state+" doctor'") ||
			!strings.Contains(string(out), "ENOSPC here: the limit on namespaces of one of these kinds is reached, or is 0") ||
			strings.Contains(string(out), "goroutine") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("without %s namespaces, want one sentence that says what ENOSPC means and points to workshop doctor, got:\n%s", kind, out)
		}
		if kind == "user" && !strings.Contains(string(out), "the kernel refused to make the namespaces") {
			t.Errorf("want the clone's refusal named, got:\n%s", out)
		}
	}
}

// A command refused with EACCES whose mode allows it says why: a directory,
// or a filesystem mounted noexec (a state dir on one: every root in it).
// It said only "permission denied", and doctor found nothing wrong.
func TestExecDeniedSaysWhy(t *testing.T) {
	testbin.NeedRoot(t)
	noexec := t.TempDir()
	if err := unix.Mount("tmpfs", noexec, "tmpfs", unix.MS_NOEXEC, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(noexec, unix.MNT_DETACH) })
	for _, tc := range []struct {
		name, state, cmd, want string
	}{
		{"noexec", filepath.Join(noexec, "state"), "/bin/echo", "its filesystem is mounted noexec"},
		{"a directory", t.TempDir(), "/bin", "(it is a directory)"},
	} {
		for _, step := range []string{"2", "3"} {
			r := testbin.Run(t, "", "--state-dir", tc.state, "step", step, "--", tc.cmd)
			if r.Code != 126 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("step %s -- %s (%s) = %d, want 126 and %q:\n%s", step, tc.cmd, tc.name, r.Code, tc.want, r.Stderr)
			}
		}
		testbin.Run(t, "", "--state-dir", tc.state, "clean")
	}
}

// With --init, the init never execs: a descriptor workshop inherited from
// the student's shell (exec 7<DIR) stayed open in it, and the command,
// root with every capability in step 3, opened the host's DIR through
// /proc/1/fd/7. workshop now marks its own descriptors close-on-exec before
// the clone, so none reaches the init.
func TestInitHoldsNoInheritedDescriptor(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	outside := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `exec 7<"$0"; exec "$@"`, outside, testbin.Bin(t))
	cmd.Args = append(cmd.Args, step3Args(t, root, "--init", "--", "/bin/sh", "-c", "for f in /proc/1/fd/*; do readlink $f; done; echo done")...)
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	if r.Code != 0 || !strings.Contains(r.Stdout, "done") || !strings.Contains(r.Stdout, "pipe:") {
		t.Fatalf("step 3 --init = %d, %q (want the init's descriptors listed):\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, filepath.Base(outside)) {
		t.Errorf("the init holds the host's %s, which workshop inherited as fd 7: its descriptors are\n%s", outside, r.Stdout)
	}
}

// A file of the host's /proc mounted over (lxcfs does it in LXC
// containers; here a bind mount over /proc/meminfo, in a mount namespace
// of the test's own): the kernel refuses a user namespace's /proc, and the
// sentence says why and what to do; without the user namespace it works.
func TestProcOvermountedRefusesAUserNamespacesProc(t *testing.T) {
	testbin.NeedRoot(t)
	unshare := testbin.NeedTool(t, "unshare")
	root := busyboxRoot(t)
	fake := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(fake, []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(ns string) (string, int) {
		script := `mount --bind "$1" /proc/meminfo && shift && exec "$@"`
		args := append([]string{"--mount", "sh", "-c", script, "sh", fake, testbin.Bin(t)}, step3Args(t, root, "-q", "--ns", ns, "--", "/bin/true")...)
		out, err := exec.Command(unshare, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("mount,uts,ipc,net,pid,user,cgroup")
	if code != 125 || !strings.Contains(out, "operation not permitted: the kernel lets a user namespace mount a /proc of its own only where the /proc it sees hides nothing, and files of this one are mounted over (/proc/meminfo") {
		t.Errorf("step 3 with /proc/meminfo mounted over = %d:\n%s", code, out)
	}
	if out, code := run("mount,uts,ipc,net,pid,cgroup"); code != 0 {
		t.Errorf("step 3 without the user namespace there = %d:\n%s", code, out)
	}
}
