package container

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The note that a PID 1 drops a signal is for signals whose default
// action would end it, not for those ignored by default or that resume.
func TestKillsByDefault(t *testing.T) {
	for sig, want := range map[unix.Signal]bool{
		unix.SIGTERM: true, unix.SIGINT: true, unix.SIGALRM: true, unix.SIGUSR1: true,
		unix.SIGKILL: false, unix.SIGSTOP: false, unix.SIGCONT: false, unix.SIGCHLD: false, unix.SIGWINCH: false, unix.SIGURG: false,
		// The terminal's stop signals stop a process by default: a PID 1
		// with no handler drops them too, and kill must say so (not let
		// the student believe the container stopped).
		unix.SIGTSTP: true, unix.SIGTTIN: true, unix.SIGTTOU: true,
	} {
		if got := killsByDefault(sig); got != want {
			t.Errorf("killsByDefault(%s) = %v, want %v", sys.SignalName(sig), got, want)
		}
	}
}

// The terminal's three stop signals stop a process by default (signal(7)),
// and no other: SIGSTOP, which no process can catch, is said apart. One
// left out, kill of an --init container with no PID namespace would take
// it for a signal that ends the init, and say nothing, where the init
// was stopped (and its command left running).
func TestStopsByDefault(t *testing.T) {
	for sig, want := range map[unix.Signal]bool{
		unix.SIGTSTP: true, unix.SIGTTIN: true, unix.SIGTTOU: true,
		unix.SIGSTOP: false, unix.SIGCONT: false, unix.SIGTERM: false, unix.SIGKILL: false, unix.SIGCHLD: false,
	} {
		if got := stopsByDefault(sig); got != want {
			t.Errorf("stopsByDefault(%s) = %v, want %v", sys.SignalName(sig), got, want)
		}
	}
}

// The STATUS of ps -a for a container whose workshop is gone says what its
// run managed to tear down (teardown.finish clears the pid, the mounts and
// the cgroups it removed): only a killed run left them all.
func TestStatusOfEndedRuns(t *testing.T) {
	gone := 1 << 22 // no such pid
	for _, tc := range []struct {
		name string
		run  state.Run
		want string
	}{
		{"killed", state.Run{WorkshopPid: gone, Pid: 42, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, "left by a killed workshop"},
		{"killed, --keep", state.Run{WorkshopPid: gone, Keep: true, Pid: 42, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, "left by a killed workshop"},
		{"ended, --keep", state.Run{WorkshopPid: gone, Keep: true}, "ended, layer kept"},
		// Its pid cleared, but its mounts and cgroup left: the run was
		// killed in its teardown. Neither "its cgroup not removed" (its
		// mounts are there too) nor "layer kept" (the layer is still
		// mounted), which would send the student to diff a live overlay.
		{"killed in its teardown, --keep", state.Run{WorkshopPid: gone, Keep: true, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, "left by a killed workshop"},
		{"ended, cgroup left", state.Run{WorkshopPid: gone, Cgroups: []string{"/c"}}, "ended, its cgroup not removed ('workshop clean' removes it)"},
		{"ended, --keep, cgroup left", state.Run{WorkshopPid: gone, Keep: true, Cgroups: []string{"/c"}}, "ended, its cgroup not removed ('workshop clean' removes it)"},
		{"ended, processes left", state.Run{WorkshopPid: gone, ProcessesLeft: true, Mounts: []string{"/m"}, Dirs: []string{"/d"}, Cgroups: []string{"/c"}}, "ended, processes left in its cgroup ('workshop clean' kills them, then removes the rest)"},
	} {
		if got, running := Status(&tc.run); got != tc.want || running {
			t.Errorf("%s: Status = %q, %v; want %q, not running", tc.name, got, running, tc.want)
		}
	}
}

// A kill whose container's record went since kill read it (its workshop
// took it down meanwhile) says the container has ended, and sends nothing:
// it said it could not mark the record, then tried the signal.
func TestMarkKillOfARecordGone(t *testing.T) {
	dir := t.TempDir()
	r := &state.Run{ID: "0123456789ab", Name: "gone", Step: 6}
	if err := state.New(dir, r); err != nil {
		t.Fatal(err)
	}
	loaded, err := state.Load(dir, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(); err != nil {
		t.Fatal(err)
	}
	var narration strings.Builder
	err = markKill(sys.New(&narration, sys.Options{}), loaded, unix.SIGTERM)
	if exit.Status(err) != exit.ToolFailed || err.Error() != "container 0123456789ab has ended" || narration.Len() != 0 {
		t.Errorf("markKill of a forgotten record = %v (status %d), narration %q; want 125, \"has ended\", nothing said", err, exit.Status(err), narration.String())
	}
}

// The STATUS of a container whose workshop lives (this test process,
// which holds its record's lock): running while its first process is the
// workshop's child; ending once that process is another's (pid 1's
// parent is 0); starting, or ending, while no pid is recorded. running(),
// which kill asks, refuses the last as starting, not as a container that
// ended with its layer kept (--keep, no pid, no mounts). Without this
// test, ps could call a live container ending, or an ending one running,
// and kill could refuse a starting --keep container as one that ended.
func TestStatusOfALiveRun(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	dir := t.TempDir()
	r := &state.Run{ID: "0123456789ab", Name: "live", Step: 6, Keep: true}
	if err := state.New(dir, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Forget() })
	if r.WorkshopPid != os.Getpid() {
		t.Fatalf("state.New recorded workshop pid %d, want this process's (%d)", r.WorkshopPid, os.Getpid())
	}
	for _, tc := range []struct {
		pid     int
		want    string
		running bool
	}{
		{child.Process.Pid, "running", true},
		{1, "ending", false},
		{0, "starting, or ending", false},
	} {
		r.Pid = tc.pid
		if got, running := Status(r); got != tc.want || running != tc.running {
			t.Errorf("Status(pid %d, its workshop alive) = %q, %v; want %q, %v", tc.pid, got, running, tc.want, tc.running)
		}
	}

	r.Pid = 0
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := running(dir, "live"); err == nil || !strings.Contains(err.Error(), "container 0123456789ab is starting") {
		t.Errorf("running() of a --keep run with no pid yet, its workshop alive = %v; want \"is starting\"", err)
	}
	r.Pid = child.Process.Pid
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if got, err := running(dir, "live"); err != nil || got.Pid != child.Process.Pid {
		t.Errorf("running() of a running container = %v, %v; want its record", got, err)
	}
}
