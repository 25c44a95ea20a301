package container_test

import (
	"strings"
	"testing"
	"time"

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
	// The winner runs until it is killed, however long the others take
	// to reach the name (on a slow machine, longer than a second).
	const runs = 6
	codes := make(chan int, runs)
	for i := 0; i < runs; i++ {
		go func() {
			r := testbin.Run(t, "", "--state-dir", state, "-q", "full", "run", "--name", "same", "--", "/bin/sleep", "600")
			if r.Code != 137 && !strings.Contains(r.Stderr, `the name "same" is taken`) {
				t.Errorf("a refused run said %q (exit %d)", r.Stderr, r.Code)
			}
			codes <- r.Code
		}()
	}
	refused := 0
	for deadline := time.After(2 * time.Minute); refused < runs-1; {
		select {
		case code := <-codes:
			if code != 125 {
				t.Fatalf("a run named \"same\" ended with %d while the others were refused (%d so far); want %d refused with 125, one running", code, refused, runs-1)
			}
			refused++
		case <-deadline:
			t.Fatalf("2 minutes on, %d of %d runs named \"same\" at once were refused; want all but one", refused, runs)
		}
	}
	if k := testbin.Run(t, "", "--state-dir", state, "kill", "same"); k.Code != 0 {
		t.Fatalf("kill same = exit %d\n%s", k.Code, k.Stderr)
	}
	if code := <-codes; code != 137 {
		t.Errorf("the one run named \"same\" = exit %d after its kill, want 137", code)
	}
}
