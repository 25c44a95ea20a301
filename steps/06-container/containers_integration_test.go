package container_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// `workshop ps` from another process lists a running container; `workshop
// kill` stops it; a second container may not take its name meanwhile.
func TestPsAndKill(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--name", "pstest", "--memory", "80M", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)

	ps := h.run("ps")
	if ps.Code != 0 {
		t.Fatalf("ps = exit %d\n%s", ps.Code, ps.Stderr)
	}
	header := regexp.MustCompile(`(?m)^ID +NAME +IMAGE +PID +COMMAND +MEMORY +UP$`)
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^%s +pstest +base:latest +%d +/bin/sleep 600 +(\S+) +(\S+)$`, rec.ID, rec.Pid))
	m := line.FindStringSubmatch(ps.Stdout)
	if !header.MatchString(ps.Stdout) || m == nil {
		t.Fatalf("ps =\n%s\nwant the header and a line for %s (pstest, base:latest, pid %d, /bin/sleep 600)", ps.Stdout, rec.ID, rec.Pid)
	}
	if !regexp.MustCompile(`^[0-9.]+[BKMG]$`).MatchString(m[1]) {
		t.Errorf("ps: memory in use %q, want a size read from the cgroup", m[1])
	}
	if !regexp.MustCompile(`^([0-9]+m)?[0-9]+s$`).MatchString(m[2]) {
		t.Errorf("ps: uptime %q, want a duration", m[2])
	}

	psa := h.run("ps", "-a")
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^ID +NAME +IMAGE +PID +COMMAND +MEMORY +UP +STATUS\n(?s:.*)^%s +pstest +base:latest +%d +/bin/sleep 600 +\S+ +\S+ +running$`, rec.ID, rec.Pid)).MatchString(psa.Stdout) {
		t.Errorf("ps -a =\n%s\nwant the header with STATUS and %s running", psa.Stdout, rec.ID)
	}

	// -q, as docker ps -q: the ids alone, for workshop kill $(workshop ps -q).
	for _, args := range [][]string{{"ps", "-q"}, {"ps", "--quiet", "-a"}} {
		if q := h.run(args...); q.Code != 0 || q.Stdout != rec.ID+"\n" {
			t.Errorf("%s = exit %d, stdout %q; want the one id %s", strings.Join(args, " "), q.Code, q.Stdout, rec.ID)
		}
	}

	taken := h.full("--name", "pstest", "--", "/bin/true")
	oneSentence(t, "a second container named pstest", taken, 125, `the name "pstest" is taken by running container `+rec.ID)

	// Named twice, by name and by id: signalled once.
	k := h.run("kill", "pstest", rec.ID[:6])
	if k.Code != 0 || strings.Count(k.Stdout, "sent SIGKILL") != 1 || !strings.Contains(k.Stdout, fmt.Sprintf("sent SIGKILL to container %s (pid %d)", rec.ID, rec.Pid)) ||
		!strings.Contains(k.Stdout, fmt.Sprintf("container %s was named before (as pstest): SIGKILL is sent once", rec.ID)) ||
		strings.Count(k.Stderr, "pidfd_send_signal(") != 1 {
		t.Errorf("kill pstest %s = exit %d, stdout %q\n%s", rec.ID[:6], k.Code, k.Stdout, k.Stderr)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^pidfd_open\(%d, 0\) = (\d+)\npidfd_send_signal\((\d+), SIGKILL, NULL, 0\) = 0\nclose\((\d+)\) = 0$`, rec.Pid)).MatchString(k.Stderr) {
		t.Errorf("kill does not narrate its pidfd_open, pidfd_send_signal and close:\n%s", k.Stderr)
	}
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "killed by signal 9 (SIGKILL), which a workshop kill sent") {
		t.Errorf("the killed run = exit %d; want 137, said to be workshop kill's signal\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)

	ps = h.run("ps")
	if strings.Contains(ps.Stdout, rec.ID) {
		t.Errorf("ps lists the killed container:\n%s", ps.Stdout)
	}
	if q := h.run("ps", "-q"); q.Code != 0 || q.Stdout != "" {
		t.Errorf("ps -q with nothing running = exit %d, stdout %q; want nothing", q.Code, q.Stdout)
	}
	oneSentence(t, "kill of the ended container", h.run("kill", rec.ID), 125, rec.ID)
}

// A container in which the OOM killer already ended one process, then
// stopped by `workshop kill`: the kill's SIGKILL and the OOM killer's look
// the same to the run's workshop, and the run must not blame the memory
// limit for an end the student caused.
func TestKillAfterAnOOMKill(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--memory", "32M", "--", "/bin/sh", "-c",
		`/bin/bash -c 's=x; while :; do s=$s$s; done'; echo "hog ended $?"; /bin/sleep 600`)
	rec := h.record(r)
	r.Stdout.WaitFor(t, "hog ended 137")
	if k := h.run("kill", rec.ID); k.Code != 0 {
		t.Fatalf("kill = exit %d\n%s", k.Code, k.Stderr)
	}
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "killed by signal 9 (SIGKILL), which a workshop kill sent") ||
		strings.Contains(res.Stderr, "killed by its memory limit") {
		t.Errorf("the run killed by workshop kill after an OOM kill = exit %d; want 137, said to be workshop kill's, not the limit's\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// Without a PID namespace the container's first process is no PID 1: a
// signal it has no handler for kills it, and kill says nothing of PID 1.
func TestKillSignalWithoutPIDNamespace(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--ns", "mount,uts,ipc,net,user", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	k := h.run("kill", "--signal", "TERM", rec.ID)
	if k.Code != 0 || strings.Contains(k.Stderr, "PID 1 drops") {
		t.Errorf("kill --signal TERM of sleep, no PID namespace = exit %d; want 0 and no word of PID 1\n%s", k.Code, k.Stderr)
	}
	if res := r.Wait(); res.Code != 143 {
		t.Errorf("sleep after SIGTERM, no PID namespace = exit %d, want 143\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// kill --signal TERM reaches a shell that traps it: it ends with its own
// status.
func TestKillSignalTerm(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--", "/bin/sh", "-c", `trap 'echo caught TERM; exit 4' TERM; echo ready; while :; do sleep 1000 & wait $!; done`)
	rec := h.record(r)
	r.Stdout.WaitFor(t, "ready")
	if k := h.run("kill", "--signal", "TERM", rec.ID); k.Code != 0 || !strings.Contains(k.Stdout, "sent SIGTERM") || strings.Contains(k.Stderr, "no handler") {
		t.Errorf("kill --signal TERM = exit %d, %q; want it sent, and no word of a missing handler\n%s", k.Code, k.Stdout, k.Stderr)
	}
	res := r.Wait()
	if res.Code != 4 || res.Stdout != "ready\ncaught TERM\n" {
		t.Errorf("the trapping shell after kill --signal TERM = exit %d, stdout %q; want 4 and its trap's line\n%s", res.Code, res.Stdout, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// Under --init, PID 1 is workshop's own init, a Go program: a fault signal
// sent to it (kill --signal ABRT) used to make Go dump every goroutine's
// stack into the container's output and end the run with 2. The init passes
// it on to the command, as it does every other signal it can catch.
func TestKillFaultSignalUnderInit(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--init", "--", "/bin/sh", "-c", `trap 'echo caught ABRT; exit 6' ABRT; echo ready; while :; do sleep 1000 & wait $!; done`)
	rec := h.record(r)
	r.Stdout.WaitFor(t, "ready")
	if k := h.run("kill", "--signal", "ABRT", rec.ID); k.Code != 0 || !strings.Contains(k.Stdout, "sent SIGABRT") {
		t.Errorf("kill --signal ABRT = exit %d, %q\n%s", k.Code, k.Stdout, k.Stderr)
	}
	res := r.Wait()
	if res.Code != 6 || res.Stdout != "ready\ncaught ABRT\n" || strings.Contains(res.Stderr, "goroutine") {
		t.Errorf("the trapping shell under --init after kill --signal ABRT = exit %d, stdout %q; want 6, its trap's line and no Go stack dump\n%s", res.Code, res.Stdout, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// Under --init, a signal the init keeps from its command (signal 34, which
// Go reserves; SIGPIPE, the init's own business) and SIGSTOP, which stops
// the init alone, reach the command not at all: kill says so and why, where
// it said nothing, or that a PID 1 drops it, to a student who chose --init
// to have signals passed on.
func TestKillSignalTheInitKeeps(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--init", "--", "/bin/sh", "-c", `trap 'echo got PIPE' PIPE; trap 'echo got 34' 34; echo ready; while :; do sleep 1000 & wait $!; done`)
	rec := h.record(r)
	r.Stdout.WaitFor(t, "ready")
	for _, c := range []struct{ sig, want string }{
		{"34", "passes signals on to its command, but not SIGRT_2: the Go runtime the init is written in reserves it and cannot catch it"},
		{"PIPE", "passes signals on to its command, but not SIGPIPE: the init's own writes raise it"},
		{"STOP", "SIGSTOP stopped workshop's init (--init), the container's first process, not its command, which goes on running"},
	} {
		k := h.run("kill", "--signal", c.sig, rec.ID)
		if k.Code != 0 || !strings.Contains(k.Stderr, c.want) || strings.Contains(k.Stderr, "drops such a signal") {
			t.Errorf("kill --signal %s of an --init container = exit %d; want 0 and %q\n%s", c.sig, k.Code, c.want, k.Stderr)
		}
	}
	if k := h.run("kill", "--signal", "CONT", rec.ID); k.Code != 0 || strings.Contains(k.Stderr, "==>") {
		t.Errorf("kill --signal CONT = exit %d; want 0 and no note\n%s", k.Code, k.Stderr)
	}
	// The command still runs, untouched: TERM, passed on, ends it now.
	if k := h.run("kill", "--signal", "TERM", rec.ID); k.Code != 0 || strings.Contains(k.Stderr, "==>") {
		t.Errorf("kill --signal TERM = exit %d; want 0 and no note\n%s", k.Code, k.Stderr)
	}
	if res := r.Wait(); res.Code != 143 || res.Stdout != "ready\n" {
		t.Errorf("the shell under --init after 34, PIPE, STOP, CONT and TERM = exit %d, stdout %q; want 143 and no trap's line\n%s", res.Code, res.Stdout, res.Stderr)
	}
	h.nothingLeft(rec.ID)

	// Without a PID namespace the init is no PID 1: signal 34, which it
	// cannot catch, ends it (and the command with it), and kill says
	// nothing of a signal kept.
	r = h.start("full", "run", "--init", "--ns", "mount,uts,ipc,net,user", "--", "/bin/sh", "-c", `echo ready; while :; do sleep 1000 & wait $!; done`)
	rec = h.record(r)
	r.Stdout.WaitFor(t, "ready")
	if k := h.run("kill", "--signal", "TTIN", rec.ID); k.Code != 0 || !strings.Contains(k.Stderr, "passes signals on to its command, but not SIGTTIN") {
		t.Errorf("kill --signal TTIN of an --init container without a PID namespace or a terminal = exit %d; want 0 and the note that the init keeps it\n%s", k.Code, k.Stderr)
	}
	if st, _ := state.StatusField(rec.Pid, "State"); strings.HasPrefix(st, "T") {
		t.Errorf("SIGTTIN, with no terminal, stopped the init: %s", st)
	}
	if k := h.run("kill", "--signal", "34", rec.ID); k.Code != 0 || strings.Contains(k.Stderr, "==>") {
		t.Errorf("kill --signal 34 of an --init container without a PID namespace = exit %d; want 0 and no note\n%s", k.Code, k.Stderr)
	}
	if res := r.Wait(); res.Code != 128+34 {
		t.Errorf("the run after kill --signal 34 of its init, no PID 1 = exit %d, want %d\n%s", res.Code, 128+34, res.Stderr)
	}
	h.nothingLeft(rec.ID)

	// On a terminal (workshop a session's leader, as under a login
	// shell), SIGTTIN stops such an init: its process group has a
	// parent, workshop, in its session, in another group, and the kernel
	// acts on the stop. kill said nothing, the init stopped, its command
	// on. Without a terminal (above: no session of its own) the kernel
	// discards it, and kill says the init keeps it.
	term := testbin.StartOnTerminal(t, testbin.Bin(t), h.args("--no-color", "full", "run", "--init", "--ns", "mount,uts,ipc,net", "--",
		"/bin/sh", "-c", `echo "ready: $((6*7))"; while :; do sleep 1000 & wait $!; done`)...)
	// Its own line, not the narration's (which says "already", and
	// shows the command as given, unexpanded).
	term.Out.WaitFor(t, "ready: 42")
	runs, err := state.List(h.state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("the run on a terminal: records %v, %v; want one", runs, err)
	}
	id, initPid := runs[0].ID, runs[0].Pid
	k := h.run("kill", "--signal", "TTIN", id)
	st, _ := state.StatusField(initPid, "State")
	if k.Code != 0 || !strings.Contains(k.Stderr, "SIGTTIN stopped workshop's init (--init), the container's first process, not its command") || !strings.HasPrefix(st, "T") {
		t.Errorf("kill --signal TTIN of an --init init, no PID 1, on a terminal = exit %d, the init %q; want 0, it stopped, and the note\n%s", k.Code, st, k.Stderr)
	}
	if k := h.run("kill", "--signal", "CONT", id); k.Code != 0 {
		t.Errorf("kill --signal CONT = exit %d\n%s", k.Code, k.Stderr)
	}
	if k := h.run("kill", "--signal", "TERM", id); k.Code != 0 {
		t.Errorf("kill --signal TERM = exit %d\n%s", k.Code, k.Stderr)
	}
	if code := term.End(t, time.Minute); code != 143 {
		t.Errorf("the run on a terminal after TTIN, CONT and TERM = exit %d, want 143", code)
	}
	h.nothingLeft(id)
}

// A signal other than SIGKILL and SIGSTOP, sent while the container is set
// up (held here in its pivot_root for two seconds), is the command's, which
// does not run yet: kill says so, where the init, a Go program, took a
// SIGSEGV for its own and dumped its stacks. Under --init too, until the
// init has started the command.
func TestKillWhileSettingUp(t *testing.T) {
	for _, init := range []bool{false, true} {
		testbin.InWindow(t, []time.Duration{2 * time.Second, 15 * time.Second}, func(hold time.Duration) (faults []string, missed bool) {
			fault := func(format string, args ...any) { faults = append(faults, fmt.Sprintf(format, args...)) }
			h := newHost(t)
			args := []string{"--state-dir", h.state, "full", "run", "--", "/bin/sh", "-c", "echo ran"}
			if init {
				args = slices.Insert(args, 4, "--init")
			}
			strace, sargs := testbin.Holding(t, "pivot_root", hold, args...)
			r := testbin.Start(t, "", strace, sargs...)
			rec := h.record(r)
			k := h.run("kill", "--signal", "SEGV", rec.ID)
			if k.Code != 125 || !strings.Contains(k.Stderr, "is being set up: its command does not run yet") {
				fault("kill --signal SEGV during set-up (--init %v) = exit %d; want 125 and the sentence\n%s", init, k.Code, k.Stderr)
			}
			// SIGSTOP stops it where it is, and is said so (not as an
			// init's that left its command running); SIGCONT resumes it.
			k = h.run("kill", "--signal", "STOP", rec.ID)
			if k.Code != 0 || !strings.Contains(k.Stderr, "SIGSTOP stopped the container while it was being set up, before its command ran") || strings.Contains(k.Stderr, "(--init)") {
				fault("kill --signal STOP during set-up (--init %v) = exit %d; want 0 and the note on the set-up\n%s", init, k.Code, k.Stderr)
			}
			// Still held in its pivot_root (stopped there), both kills
			// came in the set-up: a fault then is workshop's.
			missed = !testbin.InSyscall(rec.Pid, unix.SYS_PIVOT_ROOT)
			if k := h.run("kill", "--signal", "CONT", rec.ID); k.Code != 0 || strings.Contains(k.Stderr, "==>") {
				fault("kill --signal CONT during set-up (--init %v) = exit %d; want 0 and no note\n%s", init, k.Code, k.Stderr)
				h.run("kill", rec.ID) // not left stopped: the run would never end
			}
			res := r.Wait()
			if res.Code != 0 || res.Stdout != "ran\n" || strings.Contains(res.Stderr, "goroutine") {
				fault("the run (--init %v) = exit %d, stdout %q; want it run, no dump\n%s", init, res.Code, res.Stdout, res.Stderr)
			}
			h.nothingLeft(rec.ID)
			return faults, missed
		})
	}
}

// `workshop kill` (SIGKILL) while the container is set up (held in its
// pivot_root): the run says the container was killed before its command
// ran. It said "the command was killed", of a command that never ran.
func TestKillDuringSetUpIsSaid(t *testing.T) {
	for _, init := range []bool{false, true} {
		testbin.InWindow(t, []time.Duration{2 * time.Second, 15 * time.Second}, func(hold time.Duration) ([]string, bool) {
			h := newHost(t)
			args := []string{"full", "run", "--", "/bin/sh", "-c", "echo ran"}
			if init {
				args = slices.Insert(args, 2, "--init")
			}
			strace, sargs := testbin.Holding(t, "pivot_root", hold, h.args(args...)...)
			r := testbin.Start(t, "", strace, sargs...)
			rec := h.record(r)
			if k := h.run("kill", rec.ID); k.Code != 0 {
				// The run over before the kill came, after a stall.
				res := r.Wait()
				return []string{fmt.Sprintf("kill during set-up (--init %v) = exit %d\n%s", init, k.Code, k.Stderr)}, commandRan(res.Stderr)
			}
			res := r.Wait()
			h.nothingLeft(rec.ID)
			if res.Code != 137 || res.Stdout != "" || !strings.Contains(res.Stderr, "==> the container was killed by signal 9 (SIGKILL), which a workshop kill sent, while it was set up: its command never ran") {
				// The kill gone after the hold, the command ran first.
				return []string{fmt.Sprintf("the run killed during set-up (--init %v) = exit %d, stdout %q; want 137, nothing run, and the sentence\n%s", init, res.Code, res.Stdout, res.Stderr)}, commandRan(res.Stderr)
			}
			return nil, false
		})
	}
}

// commandRan reports whether a run's narration shows the container's
// command /bin/sh started: a kill meant for the set-up came after it.
func commandRan(narration string) bool {
	return strings.Contains(narration, `execve("/bin/sh", ["/bin/sh", "-c", "echo ran"]`)
}

// Under --init, a kill after the init's set-up and before it has started
// the command (held here in the check Go's os/exec makes before its first
// fork, a pidfd_send_signal, which nothing else of the init calls) is a
// kill in the set-up too: the command never ran. It was said as the
// command's ("the command was killed by signal 9").
func TestKillBeforeTheInitStartsTheCommand(t *testing.T) {
	testbin.InWindow(t, []time.Duration{2 * time.Second, 15 * time.Second}, func(hold time.Duration) ([]string, bool) {
		h := newHost(t)
		strace, sargs := testbin.Holding(t, "pidfd_send_signal", hold, h.args("full", "run", "--init", "--", "/bin/sh", "-c", "echo ran")...)
		r := testbin.Start(t, "", strace, sargs...)
		rec := h.record(r)
		if !testbin.AwaitHeld(t, rec.Pid, unix.SYS_PIDFD_SEND_SIGNAL, func() bool { return testbin.Ended(rec.Pid) }) {
			res := r.Wait()
			return []string{fmt.Sprintf("the init (pid %d) ended, never seen held in pidfd_send_signal (exit %d)\n%s", rec.Pid, res.Code, res.Stderr)}, true
		}
		if k := h.run("kill", rec.ID); k.Code != 0 {
			res := r.Wait()
			return []string{fmt.Sprintf("kill before the init started its command = exit %d\n%s", k.Code, k.Stderr)}, commandRan(res.Stderr)
		}
		res := r.Wait()
		h.nothingLeft(rec.ID)
		if res.Code != 137 || res.Stdout != "" || !strings.Contains(res.Stderr, "==> the container was killed by signal 9 (SIGKILL), which a workshop kill sent, while it was set up: its command never ran") {
			return []string{fmt.Sprintf("the run killed before the init started its command = exit %d, stdout %q; want 137, nothing run, and the sentence\n%s", res.Code, res.Stdout, res.Stderr)}, commandRan(res.Stderr)
		}
		return nil, false
	})
}

// A PID 1 with no handler drops the signal: kill says so, and how to stop
// it, instead of leaving the student to wonder why nothing happened.
func TestKillSignalPID1Drops(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `[pid 1] execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	k := h.run("kill", "--signal", "TERM", rec.ID)
	if k.Code != 0 || !strings.Contains(k.Stderr, "has no handler for SIGTERM, and a PID 1 drops such a signal") ||
		!strings.Contains(k.Stderr, "'sudo workshop --state-dir "+h.state+" kill "+rec.ID+"' sends SIGKILL") {
		t.Errorf("kill --signal TERM of sleep as PID 1 = exit %d, stdout %q; want the note on PID 1\n%s", k.Code, k.Stdout, k.Stderr)
	}
	if k := h.run("kill", rec.ID); k.Code != 0 || strings.Contains(k.Stderr, "no handler") {
		t.Errorf("kill (SIGKILL) = exit %d; want 0 and no note\n%s", k.Code, k.Stderr)
	}
	if res := r.Wait(); res.Code != 137 {
		t.Errorf("sleep after SIGKILL = exit %d, want 137\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// Two kills at once, a SIGKILL and a SIGTERM, the SIGTERM's kill between
// the other's mark and its signal (played here: the SIGKILL's mark written
// as its kill does, then its signal sent after the SIGTERM): the second
// kill does not say the container goes on running, and the run names
// workshop kill as the sender of its SIGKILL, though the SIGTERM's mark
// came last.
func TestKillAfterAnotherKillsSIGKILL(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `[pid 1] execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	other, err := state.Load(h.state, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.MarkKill(int(unix.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	k := h.run("kill", "--signal", "TERM", rec.ID)
	if k.Code != 0 || strings.Contains(k.Stderr, "goes on running") ||
		!strings.Contains(k.Stderr, "==> the container is ending anyway: another workshop kill sent it SIGKILL, which no process survives") {
		t.Errorf("kill --signal TERM after another kill's SIGKILL = exit %d; want 0, and the container said to be ending, not to go on running\n%s", k.Code, k.Stderr)
	}
	if err := unix.Kill(rec.Pid, unix.SIGKILL); err != nil {
		t.Fatalf("the other kill's SIGKILL: %v", err)
	}
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "which a workshop kill sent") {
		t.Errorf("the run killed by one workshop kill's SIGKILL and marked by another's SIGTERM after = exit %d; want 137, said sent by a workshop kill\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

// A first process that ignores the signal (SIG_IGN: a shell's empty trap,
// or workshop started with it ignored) goes on running: kill says so,
// without a PID namespace too, where "no handler" would not hold.
func TestKillSignalTheCommandIgnores(t *testing.T) {
	for _, ns := range []string{"mount,uts,ipc,net,pid,user,cgroup", "mount,uts,ipc,net,user"} {
		h := newHost(t)
		r := h.start("full", "run", "--ns", ns, "--", "/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 600")
		rec := h.record(r)
		// sh's own exec of sleep, which workshop does not make: seen in
		// the process's name.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", rec.Pid)); string(b) == "sleep\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("--ns %s: the container's first process never became sleep", ns)
			}
		}
		k := h.run("kill", "--signal", "TERM", rec.ID)
		if k.Code != 0 || !strings.Contains(k.Stderr, "the container's first process ignores SIGTERM (SIG_IGN") {
			t.Errorf("--ns %s: kill --signal TERM of a command that ignores it = exit %d; want 0 and the note\n%s", ns, k.Code, k.Stderr)
		}
		if k := h.run("kill", rec.ID); k.Code != 0 {
			t.Errorf("--ns %s: kill (SIGKILL) = exit %d\n%s", ns, k.Code, k.Stderr)
		}
		if res := r.Wait(); res.Code != 137 {
			t.Errorf("--ns %s: the run after SIGKILL = exit %d, want 137 (SIGTERM ignored)\n%s", ns, res.Code, res.Stderr)
		}
		h.nothingLeft(rec.ID)
	}
}

func TestKillAndDiffUnknown(t *testing.T) {
	h := newHost(t)
	oneSentence(t, "kill nope", h.run("kill", "nope"), 125, `no container "nope"`)
	oneSentence(t, "diff nope", h.run("diff", "nope"), 125, `no container "nope"`)
	oneSentence(t, "kill --signal BOGUS", h.run("kill", "--signal", "BOGUS", "x"), 125, "not a signal")
	oneSentence(t, "kill with no id", h.run("kill"), 125, "give the id or name")
}

// kill takes several containers, as docker kill does (workshop kill
// $(workshop ps -q)): each is signalled, one that cannot be is said, and
// the status says so.
func TestKillSeveral(t *testing.T) {
	h := newHost(t)
	a := h.start("full", "run", "--name", "ka", "--", "/bin/sleep", "600")
	b := h.start("full", "run", "--name", "kb", "--", "/bin/sleep", "600")
	recA, recB := h.record(a), h.record(b)
	a.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	b.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	k := h.run("kill", "ka", "nope", "kb")
	if k.Code != 125 || !strings.Contains(k.Stdout, "sent SIGKILL to container "+recA.ID) || !strings.Contains(k.Stdout, "sent SIGKILL to container "+recB.ID) ||
		!strings.Contains(k.Stderr, `no container "nope"`) || !strings.Contains(k.Stderr, "1 of the 3 containers given was not sent SIGKILL (nope)") {
		t.Errorf("kill ka nope kb = exit %d\nstdout:\n%s\nstderr:\n%s", k.Code, k.Stdout, k.Stderr)
	}
	for _, r := range []*testbin.Running{a, b} {
		if res := r.Wait(); res.Code != 137 {
			t.Errorf("a killed run = exit %d, want 137\n%s", res.Code, res.Stderr)
		}
	}
	h.nothingLeft(recA.ID)
	h.nothingLeft(recB.ID)
}

// `workshop diff` on a kept container lists what its command did to the
// image: A added, C changed (the directories on the way too), D deleted.
func TestDiffOfAKeptContainer(t *testing.T) {
	h := newHost(t)
	r := h.full("--keep", "--name", "differ", "--", "/bin/sh", "-c",
		"echo more >> /etc/passwd; rm /etc/group; mkdir /data; echo x > /data/new; echo y > /root/note")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	c := startedOf(t, r.Stderr)
	d := h.run("diff", "differ")
	want := "A /data\nA /data/new\nC /etc\nD /etc/group\nC /etc/passwd\nC /root\nA /root/note\n"
	if d.Code != 0 || d.Stdout != want {
		t.Errorf("diff differ = exit %d:\n%s\nwant\n%s\nstderr:\n%s", d.Code, d.Stdout, want, d.Stderr)
	}
	if byID := h.run("diff", c.ID); byID.Stdout != d.Stdout {
		t.Errorf("diff by id %q differs from diff by name %q", byID.Stdout, d.Stdout)
	}
	// A container that changed nothing has nothing to show.
	r = h.full("--keep", "--name", "idle", "--", "/bin/true")
	if d := h.run("diff", "idle"); r.Code != 0 || d.Code != 0 || d.Stdout != "" {
		t.Errorf("diff of a container that changed nothing = exit %d, %q", d.Code, d.Stdout)
	}
	if ps := h.run("ps"); strings.Contains(ps.Stdout, "differ") {
		t.Errorf("ps lists a kept container that has ended:\n%s", ps.Stdout)
	}
	oneSentence(t, "kill of a kept, ended container", h.run("kill", "differ"), 125, "has ended; its writable layer was kept (--keep): 'sudo workshop --state-dir "+h.state+" diff "+c.ID+"' lists what it changed")
}

// A relative --state-dir: the record names the layers by absolute paths, so
// that `diff` and `clean` from another directory find them.
func TestRelativeStateDir(t *testing.T) {
	h := newHost(t)
	parent, base := filepath.Dir(h.state), filepath.Base(h.state)
	cmd := exec.Command(testbin.Bin(t), "--no-color", "--state-dir", base, "full", "run", "--keep", "--name", "rel", "--", "/bin/sh", "-c", "echo x > /root/note")
	cmd.Dir = parent
	if r := testbin.RunCmd(t, cmd, time.Minute); r.Code != 0 {
		t.Fatalf("full run with --state-dir %s from %s = exit %d\n%s", base, parent, r.Code, r.Stderr)
	}
	if d := h.run("diff", "rel"); d.Code != 0 || d.Stdout != "C /root\nA /root/note\n" {
		t.Errorf("diff from elsewhere of a container run with a relative --state-dir = exit %d, %q\n%s", d.Code, d.Stdout, d.Stderr)
	}
	if c := h.run("clean"); c.Code != 0 || strings.Contains(c.Stderr, "outside") {
		t.Errorf("clean = exit %d\n%s", c.Code, c.Stderr)
	}
	h.noContainers()
}
