package namespaces_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
)

// The API as step 4 and step 6 use it, in this test binary.

func TestStartHoldsTheChildUntilRelease(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	var stdout, stderr, narration bytes.Buffer
	c, err := namespaces.Start(sys.New(&narration, sys.Options{}), namespaces.Config{
		Root:   root,
		Args:   []string{"/bin/sh", "-c", "echo $$ $HOSTNAME"},
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if !ids.Valid(c.ID()) {
		t.Errorf("ID() = %q, want a container id", c.ID())
	}
	// Between Start and Release the child is still this test binary, waiting:
	// nothing of the command has run, and its uid map is already written.
	self, _ := os.Executable()
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.Pid())); err != nil || exe != self {
		t.Errorf("before Release, /proc/%d/exe = %q (%v), want the test binary %q", c.Pid(), exe, err, self)
	}
	if m, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", c.Pid())); err != nil || len(strings.Fields(string(m))) != 3 {
		t.Errorf("before Release, uid_map = %q (%v), want it written", m, err)
	}
	if stdout.Len() != 0 {
		t.Errorf("the command wrote %q before Release", stdout.String())
	}
	if err := c.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	status, err := c.Wait()
	if err != nil || status != 0 {
		t.Fatalf("Wait() = %d, %v; stderr:\n%s", status, err, stderr.String())
	}
	if want := "1 " + c.ID() + "\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	for _, want := range []string{fmt.Sprintf("CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET|SIGCHLD) = %d", c.Pid()),
		fmt.Sprintf(`openat(AT_FDCWD, "/proc/%d/uid_map", O_WRONLY|O_CLOEXEC)`, c.Pid()),
		`[pid 1] execve("/bin/sh"`} {
		if !strings.Contains(narration.String()+stderr.String(), want) {
			t.Errorf("narration lacks %q:\n%s%s", want, narration.String(), stderr.String())
		}
	}
	if _, err := c.Wait(); err == nil {
		t.Errorf("a second Wait() succeeded, want an error")
	}
}

func TestKill(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	var narration bytes.Buffer
	c, err := namespaces.Start(sys.New(&narration, sys.Options{}), namespaces.Config{Root: root, Args: []string{"/bin/sleep", "1000"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(syscall.SIGKILL); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if status, err := c.Wait(); err != nil || status != 128+9 {
		t.Errorf("Wait() after Kill(SIGKILL) = %d, %v; want 137", status, err)
	}
	// Collected, its pid may be another process's: no kill goes to it.
	if err := c.Kill(syscall.SIGKILL); !errors.Is(err, namespaces.ErrEnded) {
		t.Errorf("Kill after Wait = %v, want ErrEnded", err)
	}
	if strings.Count(narration.String(), "kill(") != 1 {
		t.Errorf("want the one kill before Wait narrated, and none after:\n%s", narration.String())
	}
}

func TestPivotRoot(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	var stdout, stderr bytes.Buffer
	status, err := namespaces.Run(sys.New(&stderr, sys.Options{}), namespaces.Config{
		Root:      root,
		Args:      []string{"/bin/sh", "-c", "ls -a /; cat /proc/self/mountinfo"},
		PivotRoot: true,
		Stdout:    &stdout,
		Stderr:    &stderr,
	})
	if err != nil || status != 0 {
		t.Fatalf("Run(PivotRoot) = %d, %v; stderr:\n%s", status, err, stderr.String())
	}
	if strings.Contains(stdout.String(), ".oldroot") {
		t.Errorf("/.oldroot is still there:\n%s", stdout.String())
	}
	// The host's root is detached: no mount of it is left in the container.
	for _, l := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[3] == "/" && f[4] != "/" && !strings.HasPrefix(f[4], "/proc") && !strings.HasPrefix(f[4], "/dev") {
			t.Errorf("a mount of the host's root is left in the container: %s", l)
		}
	}
	for _, want := range []string{fmt.Sprintf(`mount(%q, %q, "", MS_BIND|MS_REC, NULL) = 0`, root, root),
		fmt.Sprintf(`pivot_root(%q, "%s/.oldroot") = 0`, root, root),
		`umount2("/.oldroot", MNT_DETACH) = 0`, `unlinkat(AT_FDCWD, "/.oldroot", AT_REMOVEDIR) = 0`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(root + "/.oldroot"); err == nil {
		t.Errorf("%s/.oldroot is left on the host", root)
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	root := t.TempDir()
	for _, cfg := range []namespaces.Config{
		{Root: root, Args: []string{"/bin/true"}, Namespaces: []string{"bogus"}},
		{Root: root, Args: []string{"/bin/true"}, Namespaces: []string{"uts"}, PivotRoot: true},
		{Root: root + "/missing", Args: []string{"/bin/true"}},
		{Root: root},
	} {
		if c, err := namespaces.Start(sys.Discard(), cfg); err == nil {
			c.Kill(syscall.SIGKILL)
			c.Wait()
			t.Errorf("Start(%+v) succeeded, want an error", cfg)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a refused Start left %v in the root", entries)
	}
}

// An error after the clone (here: joining the cgroup, as a v1 cpuset with no
// CPUs refuses it with ENOSPC) is said as it is, not as the kernel refusing
// the namespaces, which only the clone's own EPERM, EINVAL, ENOSPC or
// EUSERS mean.
func TestStartTellsAFailedJoinFromARefusedNamespace(t *testing.T) {
	testbin.NeedRoot(t)
	join := fmt.Errorf(`cannot write "0" to /sys/fs/cgroup/cpuset/workshop/x/tasks: %w`, syscall.ENOSPC)
	c, err := namespaces.Start(sys.Discard(), namespaces.Config{
		Root: t.TempDir(), Args: []string{"/bin/true"},
		BornIn: func(clone func() error) error { return join },
	})
	if err == nil {
		c.Kill(syscall.SIGKILL)
		c.Wait()
		t.Fatal("Start succeeded, want the join's error")
	}
	if !errors.Is(err, join) || strings.Contains(err.Error(), "refused to make the namespaces") {
		t.Errorf("Start = %v; want the join's error, not a refused namespace", err)
	}
}
