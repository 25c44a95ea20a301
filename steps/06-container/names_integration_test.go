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
	var ended []int
	deadline := time.After(2 * time.Minute)
refusals:
	for len(ended) < runs-1 {
		select {
		case code := <-codes:
			ended = append(ended, code)
		case <-deadline:
			break refusals
		}
	}
	// The one left runs until it is killed: asked again while it is
	// still starting (its record names no pid yet, on a slow machine).
	var k testbin.Result
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		k = testbin.Run(t, "", "--state-dir", state, "kill", "same")
		if k.Code == 0 || !strings.Contains(k.Stderr, "is starting") || time.Now().After(deadline) {
			break
		}
	}
	if k.Code != 0 {
		t.Errorf("kill same = exit %d\n%s", k.Code, k.Stderr)
	}
	for len(ended) < runs {
		select {
		case code := <-codes:
			ended = append(ended, code)
		case <-time.After(2 * time.Minute):
			t.Fatalf("2 minutes after kill same, %d of %d runs named \"same\" at once still run (ended: %v)", runs-len(ended), runs, ended)
		}
	}
	refused, killed := 0, 0
	for _, code := range ended {
		switch code {
		case 125:
			refused++
		case 137:
			killed++
		}
	}
	if refused != runs-1 || killed != 1 {
		t.Errorf("%d runs named \"same\" at once ended with %v; want %d refused (125) and one run, killed (137)", runs, ended, runs-1)
	}
}
