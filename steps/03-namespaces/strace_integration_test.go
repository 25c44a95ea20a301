package namespaces_test

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Every syscall line of step 3, the parent's and the container's, is in
// strace -f's record of the same run, in order, with the same path and the
// same result.
func TestNarrationMatchesStrace(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"all namespaces", []string{"--", "/bin/sh", "-c", "echo hi"}},
		{"mount namespace only, mknod", []string{"--ns", "mount", "--", "/bin/sh", "-c", "echo hi"}},
		{"host range, setresuid", []string{"--map-users", "100000:65536", "--", "/bin/sh", "-c", "echo hi"}},
		{"init", []string{"--init", "--", "/bin/sh", "-c", "echo hi"}},
		{"command not found", []string{"--", "/bin/nonexistent"}},
		// The lesson printed first holds lines of another run, framed:
		// only this run's calls are checked against strace's.
		{"explain", []string{"--explain", "--", "/bin/sh", "-c", "echo hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stracecheck.Run(t, append([]string{"--state-dir", t.TempDir(), "step", "3", "--root", root}, tc.args...)...)
			if tc.name == "explain" && !strings.Contains(r.Stderr, "==> "+sys.LessonEnds) {
				t.Errorf("no lesson, or not framed, under --explain:\n%.2000s", r.Stderr)
			}
			if tc.args[len(tc.args)-1] == "/bin/nonexistent" {
				if r.Code != 127 {
					t.Errorf("exit %d, want 127; stderr:\n%s", r.Code, r.Stderr)
				}
				return
			}
			if r.Code != 0 || r.Stdout != "hi\n" {
				t.Errorf("exit %d, stdout %q; want 0 and hi; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stderr, "[pid ") {
				t.Errorf("no line of the container in the narration:\n%s", r.Stderr)
			}
		})
	}
}
