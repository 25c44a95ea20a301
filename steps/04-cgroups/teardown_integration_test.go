package cgroups_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
)

// The tests of how a run of step 4 ends when its teardown is disturbed: a
// group that cannot be removed, signals while it is removed, and Ctrl-C
// pressed in every phase of a run. Each runs in a state dir of its own (so
// that what is recorded there is this test's alone), on the package's root.

// heldRun is a step 4 container, `bash -c 'echo ready; read line; exit 0'`, whose
// group the test holds: a child group made inside it from the host, so that
// removing the container's group fails with EBUSY (a group with a child
// group cannot be removed) until the test lets go.
type heldRun struct {
	*running
	state string
	group string // the container's group directory the child group is in
	held  string // the child group
	input *os.File
}

func startHeld(t *testing.T) *heldRun {
	t.Helper()
	testbin.NeedRoot(t)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wr.Close() })
	h := &heldRun{state: t.TempDir(), input: wr}
	h.running = startWorkshop(t, rd, "--state-dir", h.state, "step", "4", "--root", filepath.Join(stateDir, "my-new-root"),
		"--pids", "16", "--", "/bin/bash", "-c", "echo ready; read line; exit 0")
	rd.Close()
	h.waitForStdout(t, "ready")
	h.group = groupDirs(t, h.Stderr.String())[0]
	h.held = filepath.Join(h.group, "held")
	if err := os.Mkdir(h.held, 0o755); err != nil {
		t.Fatalf("make a child group in the container's group: %v", err)
	}
	t.Cleanup(func() {
		// What a failed test left: the child group, then the container's.
		os.Remove(h.held)
		if cg, err := cgroups.Open(filepath.Base(h.group)); err == nil {
			cg.Kill()
			cg.Remove()
		}
	})
	return h
}

// end lets the container's command end, by itself, with status 0.
func (h *heldRun) end(t *testing.T) {
	t.Helper()
	if err := h.input.Close(); err != nil {
		t.Fatal(err)
	}
}

// records are the runs recorded in the test's state dir.
func (h *heldRun) records(t *testing.T) []*state.Run {
	t.Helper()
	runs, err := state.List(h.state)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A group that cannot be removed keeps the run's record, with the group's
// paths and no pid, so that `workshop clean` removes the group later.
func TestStep4GroupNotRemovedKeepsTheRecord(t *testing.T) {
	h := startHeld(t)
	h.end(t)
	r := h.Wait()
	if r.Code != 125 || !strings.Contains(r.Stderr, "could not remove the container's cgroup: cannot remove the cgroup "+h.group) {
		t.Errorf("a container whose group cannot be removed = exit %d; want 125 and the group named\n%s", r.Code, r.Stderr)
	}
	if r.Stdout != "ready\n" {
		t.Errorf("stdout %q, want the command's own output", r.Stdout)
	}
	id := filepath.Base(h.group)
	runs := h.records(t)
	if len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("the records left are %+v; want the one of container %s", runs, id)
	}
	if rec := runs[0]; rec.Pid != 0 || !contains(rec.Cgroups, h.group) || rec.Owned() {
		t.Errorf("the record kept: pid %d, cgroups %q, owned %v; want pid 0, %s among the cgroups, its workshop gone", rec.Pid, rec.Cgroups, rec.Owned(), h.group)
	}
	if !strings.Contains(r.Stderr, "'sudo workshop --state-dir "+h.state+" clean'") {
		t.Errorf("the narration does not say 'workshop clean' (with this --state-dir) will remove the group:\n%s", r.Stderr)
	}

	// Once the child group is gone, clean removes the container's group
	// and the record, as the narration promised.
	if err := os.Remove(h.held); err != nil {
		t.Fatal(err)
	}
	c := testbin.Run(t, "", "--no-color", "--state-dir", h.state, "clean")
	if c.Code != 0 || !strings.Contains(c.Stderr, "container "+id) {
		t.Errorf("workshop clean = exit %d; want 0 and container %s removed\n%s", c.Code, id, c.Stderr)
	}
	noGroupLeft(t, r.Stderr)
	if runs := h.records(t); len(runs) != 0 {
		t.Errorf("records left after clean: %+v", runs)
	}
}

// SIGTERM while workshop removes the group does not kill it half-way: the
// group and the record are still removed, and the command's status (0) is
// workshop's. (Before, no handler was registered then, and SIGTERM's default
// action left both behind.)
func TestStep4SIGTERMDuringRemovalLeavesNothing(t *testing.T) {
	h := startHeld(t)
	h.end(t)
	// The removal retries while the group is busy: signal it in there.
	h.waitFor(t, `"`+h.group+`", AT_REMOVEDIR) = -1 EBUSY`)
	// Errors are not checked: a workshop that dies of the first signal is
	// what the checks below are for.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM, syscall.SIGTERM, syscall.SIGINT} {
		h.Cmd.Process.Signal(sig)
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.Remove(h.held); err != nil {
		t.Fatal(err)
	}
	r := h.Wait()
	if r.Code != 0 {
		t.Errorf("SIGTERM during the removal = exit %d; want 0, the command's status, with the removal done\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
	if runs := h.records(t); len(runs) != 0 {
		t.Errorf("SIGTERM during the removal left records: %+v", runs)
	}
}

// Ctrl-C pressed again and again, from a moment of the run on to its end,
// never leaves a group or a record: while workshop makes or removes them it
// does not die of SIGINT, it ends the container and removes what it made.
// Each round starts the storm at a later moment of a run (a fraction of how
// long an undisturbed run takes), so that over the rounds the first signal
// lands in every phase: filling the root, recording the run, making the
// group (before the clone, on v2), starting the child, running, tearing down.
func TestStep4CtrlCStormLeavesNothing(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	args := []string{"--no-color", "--state-dir", dir, "step", "4", "--root", filepath.Join(stateDir, "my-new-root"),
		"--memory", "80M", "--pids", "16", "--", "sleep", "0.1"}
	begun := time.Now()
	if r := testbin.Run(t, "", args...); r.Code != 0 {
		t.Fatalf("an undisturbed run = exit %d\n%s", r.Code, r.Stderr)
	}
	whole := time.Since(begun)
	const rounds = 20
	for round := 0; round < rounds; round++ {
		var stdout, stderr strings.Builder
		cmd := exec.Command(testbin.Bin(t), args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := whole * time.Duration(round) / rounds
		stop := testbin.SIGINTStorm(cmd.Process, delay)
		err := cmd.Wait()
		stop()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if strings.Contains(stderr.String(), "goroutine ") {
			t.Errorf("round %d: workshop panicked:\n%s", round, stderr.String())
		}
		for _, m := range groupDir.FindAllStringSubmatch(stderr.String(), -1) {
			if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("round %d (storm after %s): the group %s is left (stat: %v)\n%s", round, delay, m[1], err, stderr.String())
				if cg, err := cgroups.Open(filepath.Base(m[1])); err == nil {
					cg.Kill()
					cg.Remove()
				}
			}
		}
		entries, _ := os.ReadDir(state.ContainersDir(dir))
		for _, e := range entries {
			t.Errorf("round %d (storm after %s): the record containers/%s is left\n%s", round, delay, e.Name(), stderr.String())
			os.RemoveAll(filepath.Join(state.ContainersDir(dir), e.Name()))
		}
		if t.Failed() {
			break
		}
	}
}
