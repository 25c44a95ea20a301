package namespaces_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
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
	script := "echo 0 > /proc/sys/user/max_user_namespaces && exec " + testbin.Bin(t) +
		" --state-dir " + t.TempDir() + " -q step 3 --root " + root + " -- /bin/true"
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 125 {
		t.Fatalf("step 3 without user namespaces: %v, want exit 125\n%s", err, out)
	}
	if !strings.Contains(string(out), "the kernel refused to make the namespaces") || !strings.Contains(string(out), "workshop doctor") ||
		strings.Contains(string(out), "goroutine") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("want one sentence pointing to workshop doctor, got:\n%s", out)
	}
}
