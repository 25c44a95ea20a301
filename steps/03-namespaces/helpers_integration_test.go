package namespaces_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// The integration tests run the real workshop binary as root, with real
// namespaces, on roots holding a static busybox; the API tests run the
// package in this test binary, which re-executes itself as the container's
// init like workshop does (hence reexec.Main first).
func TestMain(m *testing.M) {
	reexec.Main()
	testbin.Main(m)
}

// applets are the busybox commands the test roots offer.
var applets = []string{"sh", "echo", "sleep", "id", "hostname", "ls", "readlink", "cat", "ps",
	"mkfifo", "kill", "true", "false", "stat", "test", "grep", "mount", "stty", "tty", "setsid"}

// busyboxRoot makes a root holding a static busybox and its applets in /bin,
// and a /tmp. Its directories, up to t.TempDir's, are 0755 so that root of
// a user namespace mapped to an unprivileged host range may enter them.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	testbin.Chmod(t, 0o755, filepath.Dir(base), base)
	root := filepath.Join(base, "root")
	testbin.BusyboxRoot(t, root, []string{"tmp"}, applets)
	return root
}

// step3Args is the command line of a step 3 run on root.
func step3Args(t *testing.T, root string, args ...string) []string {
	return append([]string{"--no-color", "--state-dir", t.TempDir(), "step", "3", "--root", root}, args...)
}

// step3 runs workshop step 3 on root to its end.
func step3(t *testing.T, root, stdin string, args ...string) testbin.Result {
	t.Helper()
	return testbin.Run(t, stdin, step3Args(t, root, args...)...)
}

// start starts workshop with args and returns it running.
func start(t *testing.T, args ...string) *testbin.Running {
	t.Helper()
	return testbin.Start(t, "", testbin.Bin(t), args...)
}

// childPidLine is the narration's note of the container's first process.
var childPidLine = regexp.MustCompile(`the child is pid (\d+) on the host`)

// childPid is the pid the narration says the container's first process
// has on the host.
func childPid(t *testing.T, narration string) int {
	t.Helper()
	m := childPidLine.FindStringSubmatch(narration)
	if m == nil {
		t.Fatalf("the narration names no child's pid; it ends:\n%s", testbin.LastLines(narration, 15))
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// containerPid finds the container's first process: the child of workshop.
func containerPid(r *testbin.Running) int {
	r.T.Helper()
	return testbin.ChildOf(r.T, r.Cmd.Process.Pid)
}

// nsLink reads /proc/PID/ns/NAME ("self" for the test itself).
func nsLink(t *testing.T, pid, name string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + pid + "/ns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// procStatus reads one field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}
