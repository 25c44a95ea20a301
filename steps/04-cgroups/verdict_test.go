package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
)

// Verdict is a pure function of the outcome: each way a run can end gets
// its exit status, and a sentence only when that status is not 0.
func TestVerdict(t *testing.T) {
	noOOM := Stats{Mode: V1, OOMKills: 0, MemoryHits: 0}
	oom := Stats{Mode: V2, OOMKills: 1}
	removeErr := errors.New("cannot remove the cgroup /sys/fs/cgroup/pids/workshop/x: device or resource busy")
	for _, tc := range []struct {
		name     string
		out      Outcome
		code     int
		sentence string // what the error says; "" is no sentence (silent or nil)
		note     string // what the narration says; "" is nothing asked
		noLimit  bool   // run without --memory (else --memory 80M)
	}{
		{name: "success", out: Outcome{Status: 0, Stats: noOOM}, code: 0},
		{name: "the command's own status", out: Outcome{Status: 7, Stats: noOOM}, code: 7},
		{name: "OOM kill", out: Outcome{Status: 137, Stats: oom, Signaled: true}, code: 137,
			sentence: "the container was killed by its memory limit (--memory 80M): the kernel's OOM killer ended it when it could reclaim no more (memory.events says oom_kill 1)"},
		// Under --init, the init exits 137 when its command was killed by
		// SIGKILL: the limit's kill, not an exit of the command's own.
		{name: "OOM kill of the command under --init", out: Outcome{Status: 137, Stats: oom, Init: true}, code: 137,
			sentence: "the container was killed by its memory limit (--memory 80M)"},
		// A shell passes on the 137 of a child the OOM killer ended: its
		// own exit, not a kill.
		{name: "137 as its own exit after an OOM kill in the group", out: Outcome{Status: 137, Stats: oom}, code: 137,
			note: "==> the command exited with status 137 by itself, not killed: the limit's OOM killer ended 1 of the container's other processes (--memory 80M)"},
		// With no --memory, the group counts the machine's OOM kills too
		// (v2's memory.events does): no limit of its own is blamed.
		{name: "OOM kill with no limit", out: Outcome{Status: 137, Stats: oom, Signaled: true}, code: 137, noLimit: true,
			sentence: "the container was killed by the kernel's OOM killer, with no --memory limit of its own: the machine ran out of memory (memory.events says oom_kill 1)"},
		{name: "137 as its own exit after an OOM kill in the group, with no limit", out: Outcome{Status: 137, Stats: oom}, code: 137, noLimit: true,
			note: "==> the command exited with status 137 by itself, not killed: the kernel's OOM killer ended 1 of the container's other processes (no --memory limit: the machine ran out of memory)"},
		{name: "timeout", out: Outcome{Status: 137, Stats: noOOM, Signaled: true, KilledBecause: "--timeout 2s expired"}, code: 137,
			sentence: "--timeout 2s expired: workshop killed every process in the container's cgroup (exit status 137)"},
		// A child of the container was OOM-killed earlier; the timeout
		// ended the container: the timeout is the reason said.
		{name: "timeout after an OOM kill in the group", out: Outcome{Status: 137, Stats: oom, Signaled: true, KilledBecause: "--timeout 2s expired"}, code: 137,
			sentence: "--timeout 2s expired: workshop killed every process in the container's cgroup (exit status 137)"},
		// The kernel's log names the first process among the OOM
		// killer's victims: the limit ended it, though the group emptied
		// only after the timeout's kill.
		{name: "OOM kill of the first process, then the timeout", out: Outcome{Status: 137, Stats: oom, Signaled: true, KilledBecause: "--timeout 2s expired", OOMFirst: true}, code: 137,
			sentence: "the container was killed by its memory limit (--memory 80M)",
			note:     "==> --timeout 2s expired too, and workshop killed what was left of the cgroup; but the kernel's log (/dev/kmsg) names the first process among the OOM killer's victims"},
		// The timeout fired at the container's last instant: it had exited
		// 0 by itself, so the run succeeded.
		{name: "timeout as the container exits 0", out: Outcome{Status: 0, Stats: noOOM, KilledBecause: "--timeout 2s expired"}, code: 0,
			note: "==> --timeout 2s expired just as the container ended: its first process had exited by itself, with status 0"},
		// Under --init, the init's status stands for its command's: 137
		// when the kill ended it.
		{name: "timeout under --init", out: Outcome{Status: 137, Stats: noOOM, Init: true, KilledBecause: "--timeout 2s expired"}, code: 137,
			sentence: "--timeout 2s expired: workshop killed every process in the container's cgroup (exit status 137)"},
		// A shell ended by a SIGINT workshop passed on exits 130 itself;
		// the grace ran out at that instant: the status is its own.
		{name: "a stop signal's grace as the command exits by itself", out: Outcome{Status: 130, Stats: noOOM, KilledBecause: "the container ignored SIGINT for 3s"}, code: 130,
			note: "==> the container ignored SIGINT for 3s just as the container ended: its first process had exited by itself, with status 130"},
		{name: "signal, not a limit", out: Outcome{Status: 143, Stats: noOOM, Signaled: true}, code: 143,
			note: "==> the command was killed by signal 15 (SIGTERM), not by a limit"},
		// `workshop kill` sent SIGKILL after the OOM killer had ended
		// another process of the group: the kill is the reason said.
		{name: "workshop kill after an OOM kill in the group", out: Outcome{Status: 137, Stats: oom, Signaled: true, SentBy: "a workshop kill"}, code: 137,
			note: "==> the command was killed by signal 9 (SIGKILL), which a workshop kill sent"},
		// The limit's OOM killer ended other processes of the group, but
		// the kernel's log does not name the first process among them: the
		// SIGKILL that ended it came from outside. Without this case the
		// limit would be blamed for a kill -9 someone else sent.
		{name: "SIGKILL from outside after an OOM kill in the group", out: Outcome{Status: 137, Stats: oom, Signaled: true, OOMElsewhere: true}, code: 137,
			note: "==> the command was killed by signal 9 (SIGKILL), not by its memory limit: the limit's OOM killer did end 1 of the container's processes, " +
				"but the kernel's log (/dev/kmsg) names other ones, not its first process; the SIGKILL came from outside (kill -9?)"},
		// `workshop kill` (SIGKILL) reached the container before its
		// command's execve: the command never ran.
		{name: "workshop kill during the setup", out: Outcome{Status: 137, Stats: noOOM, Signaled: true, SentBy: "a workshop kill", InSetup: true}, code: 137,
			note: "==> the container was killed by signal 9 (SIGKILL), which a workshop kill sent, while it was set up: its command never ran"},
		{name: "a SIGKILL from elsewhere during the setup", out: Outcome{Status: 137, Stats: noOOM, Signaled: true, InSetup: true}, code: 137,
			note: "==> the container was killed by signal 9 (SIGKILL) while it was set up, not by a limit: its command never ran"},
		{name: "a code above 128 of its own, not a signal", out: Outcome{Status: 200, Stats: noOOM}, code: 200},
		{name: "group left, status 0", out: Outcome{Status: 0, Stats: noOOM, RemoveErr: removeErr}, code: exit.ToolFailed,
			note: "==> could not remove the container's cgroup: " + removeErr.Error() + " ('sudo workshop clean' will retry)"},
		{name: "group left, status 3", out: Outcome{Status: 3, Stats: noOOM, RemoveErr: removeErr}, code: 3,
			note: "==> could not remove the container's cgroup: "},
		{name: "group left after a timeout at exit 0", out: Outcome{Status: 0, Stats: noOOM, KilledBecause: "--timeout 2s expired", RemoveErr: removeErr}, code: exit.ToolFailed,
			note: "==> could not remove the container's cgroup: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var narration bytes.Buffer
			l := Limits{Memory: 80 << 20}
			if tc.noLimit {
				l = Limits{}
			}
			err := tc.out.Verdict(sys.New(&narration, sys.Options{}), l)
			if strings.Contains(narration.String()+fmt.Sprint(err), "--memory 0") {
				t.Errorf("Verdict(%+v) quotes --memory 0: %q, %v", tc.out, narration.String(), err)
			}
			if got := exit.Status(err); got != tc.code {
				t.Errorf("Verdict(%+v) = %v, exit status %d; want %d", tc.out, err, got, tc.code)
			}
			switch {
			case tc.sentence == "" && err != nil && !exit.Silent(err):
				t.Errorf("Verdict(%+v) says %q; want no sentence (status %d)", tc.out, err, tc.code)
			case tc.sentence != "" && (err == nil || !strings.Contains(err.Error(), tc.sentence)):
				t.Errorf("Verdict(%+v) = %v; want the sentence %q", tc.out, err, tc.sentence)
			}
			if tc.code == 0 && err != nil {
				t.Errorf("Verdict(%+v) = %#v for a status of 0; want nil", tc.out, err)
			}
			if tc.note != "" && !strings.Contains(narration.String(), tc.note) {
				t.Errorf("Verdict(%+v) narrated %q; want %q", tc.out, narration.String(), tc.note)
			}
			if !tc.out.Signaled && strings.Contains(narration.String(), "killed by signal") {
				t.Errorf("Verdict(%+v) narrated %q: a signal, for a command no signal ended", tc.out, narration.String())
			}
		})
	}
}

// A record is removed with the group, and kept for `workshop clean` when
// the group could not be removed: its cgroup paths stay, its pid (of a
// process that has ended) goes.
func TestKeepOrForget(t *testing.T) {
	dir := t.TempDir()
	paths := []string{"/sys/fs/cgroup/pids/workshop/0123456789ab"}
	rec := &state.Run{ID: "0123456789ab", Step: 4, Pid: 4242, Cgroups: paths}
	if err := state.New(dir, rec); err != nil {
		t.Fatal(err)
	}
	var narration bytes.Buffer
	n := sys.New(&narration, sys.Options{})
	if err := keepOrForget(n, rec, errors.New("busy")); err != nil {
		t.Fatalf("keepOrForget(busy) = %v", err)
	}
	kept, err := state.Load(dir, rec.ID)
	if err != nil {
		t.Fatalf("the record is gone after a failed removal: %v", err)
	}
	if kept.Pid != 0 || strings.Join(kept.Cgroups, " ") != strings.Join(paths, " ") {
		t.Errorf("kept record: pid %d, cgroups %q; want pid 0 and %q", kept.Pid, kept.Cgroups, paths)
	}
	if !strings.Contains(narration.String(), "'sudo workshop clean'") {
		t.Errorf("keeping the record is not said: %q", narration.String())
	}

	if err := keepOrForget(n, rec, nil); err != nil {
		t.Fatalf("keepOrForget(nil) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(state.ContainersDir(dir), rec.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the record is still there after the group was removed (stat: %v)", err)
	}
}

// A demo's limits hold where the student gave none; the student's win.
func TestDemoLimits(t *testing.T) {
	if got := Demos(); strings.Join(got, " ") != "forkbomb memhog" {
		t.Errorf("Demos() = %q", got)
	}
	d := demos["forkbomb"]
	if got := (Limits{Pids: 32}).or(d.limits); got != (Limits{Pids: 32, CPUs: 0.5, Memory: 256 << 20}) {
		t.Errorf("--pids 32 with the fork bomb's limits = %+v", got)
	}
	if got := (Limits{}).or(d.limits); got != d.limits || d.timeout != 10*time.Second {
		t.Errorf("no limits with the fork bomb's = %+v (timeout %s); want its own, and 10s", got, d.timeout)
	}
}

// A container that has not ended after a stop signal's grace ignored it,
// unless it was stopped (Ctrl-Z, then a hang-up): then it has not taken it
// yet, and the kill's sentence says so.
func TestNotEndedWhy(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := notEndedWhy(cmd.Process.Pid, "SIGHUP"); got != "the container ignored SIGHUP for "+StopGrace.String() {
		t.Errorf("notEndedWhy(a running process) = %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if p, ok := state.Stat(cmd.Process.Pid); ok && p.State == 'T' || time.Now().After(deadline) {
			break
		}
	}
	if got := notEndedWhy(cmd.Process.Pid, "SIGHUP"); !strings.HasPrefix(got, "the container, stopped (Ctrl-Z, SIGSTOP), has not taken SIGHUP in ") {
		t.Errorf("notEndedWhy(a stopped process) = %q", got)
	}
}

// A child killed before its release, by the SIGKILL `workshop kill` marked
// in the run's record, is said to be workshop kill's; another death, or
// one with no mark, keeps its own sentence.
func TestKilledInSetupBy(t *testing.T) {
	rec := &state.Run{ID: "0123456789ab"}
	if err := state.New(t.TempDir(), rec); err != nil {
		t.Fatal(err)
	}
	defer rec.LetGo()
	died := exit.Errorf(137, "the container's first process was killed by SIGKILL before its command ran (sent from outside, or the OOM killer's); nothing of it is left")
	if got := killedInSetupBy(rec, died); got != died {
		t.Errorf("no mark: killedInSetupBy = %v, want the death's own error", got)
	}
	if err := rec.MarkKill(9); err != nil {
		t.Fatal(err)
	}
	// Another kill's mark, written after: the SIGKILL's is still read.
	if err := rec.MarkKill(15); err != nil {
		t.Fatal(err)
	}
	got := killedInSetupBy(rec, died)
	if exit.Status(got) != 137 || !strings.Contains(got.Error(), "the container was killed by signal 9 (SIGKILL), which a workshop kill sent, while it was set up: its command never ran") {
		t.Errorf("marked SIGKILL: killedInSetupBy = %v (status %d), want 137 and workshop kill named", got, exit.Status(got))
	}
	other := exit.Errorf(125, "release the container's init: broken pipe")
	if got := killedInSetupBy(rec, other); got != other {
		t.Errorf("another failure: killedInSetupBy = %v, want it unchanged", got)
	}
}
