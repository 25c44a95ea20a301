package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// The benchmark's floors must do the work they claim and undo it: a
// floor that skipped a step, or left a cgroup or a mount behind, would
// make the comparison in the README a lie.
func TestLeastContendersRunAndCleanUp(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "cc")
	for _, h := range []string{"memory", "pids"} {
		if !exists(filepath.Join("/sys/fs/cgroup", h, "tasks")) {
			if testbin.InCI() {
				t.Fatalf("no cgroup v1 %s hierarchy on the CI machine, which has hybrid cgroups", h)
			}
			t.Skipf("leastgo, leastfork and leastc need cgroup v1's %s hierarchy", h)
		}
	}
	state := t.TempDir()
	root := filepath.Join(state, "root")
	testbin.BusyboxRoot(t, root, []string{"proc", "dev"}, []string{"true", "false", "sh"})
	cs, err := leastContenders(state, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantContenders(); len(cs) != want {
		t.Fatalf("leastContenders gave %d contenders, want %d (leastgo, leastfork on amd64, leastc)", len(cs), want)
	}
	// A root with no /dev: the child's mount of its /dev fails, and says so.
	noDev := filepath.Join(state, "nodev")
	testbin.BusyboxRoot(t, noDev, []string{"proc"}, []string{"true"})
	for _, c := range cs {
		for i, tc := range []struct {
			command string
			root    string
			code    int
			stderr  string
		}{
			{"/bin/true", root, 0, ""},
			{"/bin/false", root, 1, ""},
			{"/bin/missing", root, 125, "/bin/missing"},
			{"/bin/true", noDev, 125, "mount /dev"},
		} {
			argv := c.argv(i)
			argv[len(argv)-1] = tc.command
			argv[1] = tc.root
			layer := argv[len(argv)-2]
			cmd := exec.Command(argv[0], argv[1:]...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%s %s: %v", c.name, tc.command, err)
			}
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit %d, stderr containing %q", c.name, tc.command, code, stderr.String(), tc.code, tc.stderr)
			}
			if _, err := os.Lstat(layer); !os.IsNotExist(err) {
				t.Errorf("%s %s: its layer %s is still there (%v)", c.name, tc.command, layer, err)
			}
			if m := testbin.MountsUnder(t, state); len(m) != 0 {
				t.Errorf("%s %s left mounts: %v", c.name, tc.command, m)
			}
			for _, pattern := range []string{"leastgo-*", "leastfork-*", "leastc-*"} {
				if left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", pattern)); len(left) != 0 {
					t.Errorf("%s %s left cgroups: %v", c.name, tc.command, left)
				}
			}
		}
	}
}

// The command really runs in the new namespaces, under the limits, on the
// overlay: a command that reports them shows the work was done.
func TestLeastContendersDoTheWork(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "cc")
	state := t.TempDir()
	root := filepath.Join(state, "root")
	testbin.BusyboxRoot(t, root, []string{"proc", "dev"}, []string{"sh", "cat", "hostname", "ls"})
	// leastgo and leastc exec their command with no arguments: a script
	// in the root reports what the container sees.
	script := "#!/bin/sh\n" +
		"echo pid=$$ host=$(hostname)\n" +
		"cat /proc/self/cgroup\n" +
		"cat /proc/self/uid_map\n" +
		"echo setgroups=$(cat /proc/self/setgroups)\n" +
		"ls /dev\n" +
		"cat /proc/self/mountinfo\n"
	if err := os.WriteFile(filepath.Join(root, "report"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cs, err := leastContenders(state, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Skip("no cgroup v1 memory and pids hierarchies here")
	}
	for i, c := range cs {
		argv := c.argv(100 + i)
		argv[len(argv)-1] = "/report"
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s /report: %v\n%s", c.name, err, out)
		}
		got := string(out)
		for _, want := range []string{
			"pid=1 host=box\n",         // PID and UTS namespaces, sethostname
			":memory:/\n", ":pids:/\n", // born in its groups, seen through a cgroup namespace
			"         0          0          1\n", // user namespace, root mapped to root
			"setgroups=deny\n",                   // as a map written for a user namespace has it
			"null\n", "urandom\n", "ptmx\n",      // the /dev of bind mounts, and its link to the devpts
			" / / rw", "overlay", // pivot_root onto the overlay
			" /proc ", " /dev ", " /dev/shm ", " /dev/pts ",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: the container's report lacks %q:\n%s", c.name, want, got)
			}
		}
		if strings.Contains(got, ".oldroot") {
			t.Errorf("%s: the old root is still mounted:\n%s", c.name, got)
		}
	}
}

// wantContenders is how many floors leastContenders gives on this machine,
// which has cc (the tests need it): leastgo, leastc, and leastfork where
// its assembly is.
func wantContenders() int {
	if runtime.GOARCH == "amd64" {
		return 3
	}
	return 2
}
