package container_test

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A container's name must be a name, and one container's: a running one's,
// or one whose layer was kept (diff NAME must mean one container).
func TestFullRunNames(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	for _, bad := range []string{"bad name", "-dash", "a/b", "tab\there"} {
		r := testbin.Run(t, "", "--state-dir", state, "full", "run", "--name", bad, "--", "/bin/true")
		if r.Code != 125 || !strings.Contains(r.Stderr, "a name is letters, digits") {
			t.Errorf("--name %q = %d, stderr %q; want 125 and the rule", bad, r.Code, r.Stderr)
		}
	}
	r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--keep", "--name", "kept", "--", "/bin/sh", "-c", "touch /first")
	if r.Code != 0 {
		t.Fatalf("first --keep run = %d\n%s", r.Code, r.Stderr)
	}
	r = testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--keep", "--name", "kept", "--", "/bin/true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "whose layer was kept") {
		t.Errorf("a second container named like a kept one = %d, stderr %q; want 125", r.Code, r.Stderr)
	}
	r = testbin.Run(t, "", "--state-dir", state, "diff", "kept")
	if r.Code != 0 || !strings.Contains(r.Stdout, "A /first") {
		t.Errorf("diff kept = %d, %q; want the first container's change", r.Code, r.Stdout)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "clean"); r.Code != 0 {
		t.Errorf("clean = %d\n%s", r.Code, r.Stderr)
	}
}

// Runs that ask for the same --name at once: exactly one gets it.
func TestFullRunNameIsTakenOnce(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("making the base image: %d\n%s", r.Code, r.Stderr)
	}
	const runs = 6
	codes := make(chan int, runs)
	for i := 0; i < runs; i++ {
		go func() {
			r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--name", "same", "--", "/bin/sh", "-c", "sleep 1")
			if r.Code != 0 && !strings.Contains(r.Stderr, `the name "same" is taken`) {
				t.Errorf("a refused run said %q (exit %d)", r.Stderr, r.Code)
			}
			codes <- r.Code
		}()
	}
	ok := 0
	for i := 0; i < runs; i++ {
		if <-codes == 0 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d runs named \"same\" at once ran; want exactly 1", ok, runs)
	}
}
