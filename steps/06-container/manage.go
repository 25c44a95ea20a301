package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

// What `workshop ps` and `workshop kill` ask of a recorded container: its
// status, the memory it uses, and a signal sent to its first process.

// Status is the STATUS column of `ps -a`, and whether the container
// runs: its first process is there, the child of its living workshop.
func Status(r *state.Run) (string, bool) {
	switch {
	case r.Owned() && r.OtherPIDNamespace():
		return fmt.Sprintf("running, its workshop in another PID namespace (%s), whose pids the record's are", r.WorkshopPidNS), true
	case r.Owned() && r.Pid == 0:
		return "starting, or ending", false
	case r.Owned() && state.ParentPid(r.Pid) != r.WorkshopPid:
		return "ending", false
	case r.Owned():
		return "running", true
	// Its run ended and tore down what it could (teardown.finish clears
	// the pid, the mount and the cgroup it removed); a killed one left
	// them all.
	case r.Pid == 0 && r.ProcessesLeft:
		return "ended, processes left in its cgroup ('workshop clean' kills them, then removes the rest)", false
	case r.Pid == 0 && len(r.Mounts) == 0 && len(r.Cgroups) > 0:
		return "ended, its cgroup not removed ('workshop clean' removes it)", false
	case r.EndedWithLayerKept():
		return "ended, layer kept", false
	}
	return "left by a killed workshop", false
}

// MemoryInUse reads what the container's cgroup uses now, or "-".
func MemoryInUse(r *state.Run) string {
	if len(r.Cgroups) == 0 {
		return "-"
	}
	cg, err := cgroups.Open(r.ID)
	if err != nil {
		return "-"
	}
	b, err := cg.MemoryCurrent()
	if err != nil {
		return "-"
	}
	return units.FormatSize(b)
}

// killsByDefault reports whether sig's default action ends a process (or
// stops it), so that a PID 1 without a handler drops it: not SIGKILL and
// SIGSTOP, which the kernel delivers to PID 1 from an ancestor namespace,
// nor the signals ignored by default or that resume (CHLD, CONT, URG,
// WINCH).
func killsByDefault(sig unix.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH:
		return false
	}
	return true
}

// settingUp reports whether the container's first process is still
// workshop's before its command runs: the same program as this one (it has
// not exec'd the command) and, under --init, with no child yet (its init
// has not started the command).
func settingUp(r *state.Run) bool {
	if !state.RunsThisProgram(r.Pid) {
		return false
	}
	return !r.Init || len(state.Children(r.Pid)) == 0
}

// running finds a running container by id, id prefix or name.
func running(stateDir, ref string) (*state.Run, error) {
	r, err := state.Load(stateDir, ref)
	if err != nil {
		return nil, exit.Errorf(exit.ToolFailed, "%v", err)
	}
	owned, forgotten := r.Ownership()
	switch {
	case owned && r.OtherPIDNamespace():
		return nil, exit.Errorf(exit.ToolFailed, "container %s was started by a workshop in another PID namespace (%s): its pids are that namespace's, and here name other processes; run this command in that namespace", r.ID, r.WorkshopPidNS)
	case !owned && r.EndedWithLayerKept():
		return nil, exit.Errorf(exit.ToolFailed, "container %s has ended; its writable layer was kept (--keep): "+
			"'workshop diff %s' lists what it changed, 'workshop clean' removes it", r.ID, r.ID)
	case forgotten:
		return nil, hasEnded(r.ID)
	case owned && r.Pid == 0:
		return nil, exit.Errorf(exit.ToolFailed, "container %s is starting (its first process is not made yet, or its workshop is taking it down): try again in a moment", r.ID)
	case !owned || r.Pid == 0:
		return nil, exit.Errorf(exit.ToolFailed, "container %s is not running (its workshop process is gone; 'workshop clean' removes what it left)", r.ID)
	}
	return r, nil
}

// Kill sends sig to the running container ref, through a pidfd.
func Kill(n *sys.Narrator, out io.Writer, stateDir, ref string, sig unix.Signal) error {
	r, err := running(stateDir, ref)
	if err != nil {
		return err
	}
	// A pidfd first: the checks below are then of the process the
	// signal will reach, and a pid reused in between (the
	// container ended, another process got its number) is never
	// signalled.
	pidfd, err := n.Because("a handle on the container's first process: a signal through it reaches that process or none").PidfdOpen(r.Pid)
	switch {
	case errors.Is(err, unix.ESRCH):
		return hasEnded(r.ID)
	case err != nil:
		// ENOSYS before Linux 5.3; EPERM where a seccomp filter
		// (an older Docker's, systemd's SystemCallFilter=) refuses
		// calls it does not know.
		n.Note("no pidfd (%v): kill(2) by pid instead, checked just before", errors.Unwrap(err))
		pidfd = -1
	}
	closePidfd := func() {
		if pidfd >= 0 {
			n.CloseFd(pidfd)
			pidfd = -1
		}
	}
	defer closePidfd()
	// The pid in the record is the container's first process while
	// its workshop lives; check it is still that process's child.
	if state.ParentPid(r.Pid) != r.WorkshopPid {
		return hasEnded(r.ID)
	}
	// Ended already (an OOM kill, its own exit), not yet collected
	// by its workshop: a signal now would change nothing, and the
	// mark would make the run blame 'workshop kill' for its end.
	if st, ok := state.StatusField(r.Pid, "State"); ok && strings.HasPrefix(st, "Z") {
		return exit.Errorf(exit.ToolFailed, "container %s has ended: its workshop is taking it down", r.ID)
	}
	// Still workshop's init, before the command runs: the signal
	// is the command's, and the init, a Go program, would take it
	// for itself (a SIGSEGV: a dump of its stacks, the run ended).
	// SIGKILL and SIGSTOP stop a container at any moment, and SIGCONT
	// resumes one SIGSTOP stopped.
	inSetUp := settingUp(r)
	if sig != unix.SIGKILL && sig != unix.SIGSTOP && sig != unix.SIGCONT && inSetUp {
		return exit.Errorf(exit.ToolFailed, "container %s is being set up: its command does not run yet, and %s is for the command; try again in a moment (SIGKILL stops it now)", r.ID, sys.SignalName(sig))
	}
	// From the host, the container's PID 1 is an ordinary pid: a
	// signal it has no handler for still does nothing, except
	// SIGKILL and SIGSTOP, which the kernel never lets PID 1 ignore
	// from an ancestor namespace.
	caught, known := state.Catches(r.Pid, int(sig))
	ignored, _ := state.Ignores(r.Pid, int(sig))
	// Past its set-up, under --init, the first process is workshop's
	// init, which passes signals on to its command, or not.
	underInit := r.Init && !inSetUp && state.RunsThisProgram(r.Pid)
	// Marked first, so that the run's workshop, woken by the
	// death, finds the mark: its verdict names the sender.
	if err := markKill(n, r, sig); err != nil {
		return err
	}
	if pidfd >= 0 {
		err = n.PidfdSendSignal(pidfd, sig)
		closePidfd()
	} else {
		err = n.Kill(r.Pid, sig)
	}
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			// It ended, and its workshop reaped it, between the
			// checks above and the signal: it may be reading the
			// marks now, and one taken back is no matter.
			return hasEnded(r.ID)
		}
		// Not sent (an LSM's EPERM): the mark is taken back, or the
		// run would blame its end, whatever it is, on this kill.
		if uerr := r.UnmarkKill(int(sig)); uerr != nil {
			n.Note("could not take back the mark in the record of %s: %v (its run may say this kill ended it)", r.ID, uerr)
		}
		return exit.Errorf(exit.ToolFailed, "%v", err)
	}
	fmt.Fprintf(out, "sent %s to container %s (pid %d)\n", sys.SignalName(sig), r.ID, r.Pid)
	if sig != unix.SIGKILL && endingAnyway(r) {
		// What follows would say how the process takes the signal:
		// that it goes on running, while a SIGKILL (another workshop
		// kill's, sent at the same moment) ends it.
		n.Note("the container is ending anyway: another workshop kill sent it SIGKILL, which no process survives")
		return nil
	}
	if inSetUp && sig == unix.SIGSTOP {
		n.Note("SIGSTOP stopped the container while it was being set up, before its command ran: it waits, stopped, "+
			"until 'workshop kill --signal CONT %s' resumes it", r.ID)
		return nil
	}
	if underInit {
		// Past its set-up, the init passes signals on to its command,
		// but not all (namespaces.InitKeeps). With no PID namespace
		// (--ns without pid) it is no PID 1, and a signal it has no
		// handler for takes its default action on the init itself.
		defaultApplies := known && !caught && killsByDefault(sig) && !ownPIDNamespace(r.Pid)
		switch {
		case defaultApplies && ignored:
			// Said below, as of any first process that ignores it.
		case defaultApplies && !stopsByDefault(sig):
			// The init ends, and its run says by what.
			return nil
		case defaultApplies && stoppedSoon(r.Pid, sig):
			// A stop is looked for, not foretold: the kernel discards
			// SIGTTIN and SIGTTOU (and SIGTSTP) for a process group
			// no parent in its session could resume (POSIX's orphaned
			// group: the init's, without a terminal), and the init
			// keeps them from its command then (the next case).
			n.Note("%s stopped workshop's init (--init), the container's first process, not its command, which goes on running: "+
				"with no PID namespace (--ns without pid) the init is no PID 1, and it has no handler for %s, whose default action is to stop. "+
				"Stopped, the init reaps nothing and passes nothing on; 'workshop kill --signal CONT %s' resumes it", sys.SignalName(sig), sys.SignalName(sig), r.ID)
			return nil
		default:
			if why, kept := namespaces.InitKeeps(sig); kept {
				n.Note("the container's first process is workshop's init (--init), which passes signals on to its command, but not %s: %s. "+
					"The command does not get it; 'workshop kill %s' sends SIGKILL, which ends the container", sys.SignalName(sig), why, r.ID)
				return nil
			}
			if sig == unix.SIGSTOP {
				n.Note("SIGSTOP stopped workshop's init (--init), the container's first process, not its command, which goes on running: "+
					"no process can catch SIGSTOP to pass it on. Stopped, the init reaps nothing and passes nothing on; "+
					"'workshop kill --signal CONT %s' resumes it", r.ID)
				return nil
			}
		}
	}
	if ignored {
		n.Note("the container's first process ignores %s (SIG_IGN: it was started so, or set it): it goes on running; "+
			"'workshop kill %s' sends SIGKILL, which it cannot ignore", sys.SignalName(sig), r.ID)
		return nil
	}
	// Only a PID 1 drops it: without a PID namespace (--ns
	// without pid) the default action applies, and kills it.
	if known && !caught && killsByDefault(sig) && ownPIDNamespace(r.Pid) {
		n.Note("the container's first process has no handler for %s, and a PID 1 drops such a signal (step 3's lesson): it goes on running; "+
			"'workshop kill %s' sends SIGKILL, which it cannot ignore", sys.SignalName(sig), r.ID)
	}
	return nil
}

// hasEnded is kill's answer for a container that ended before its signal
// could reach it, however kill found out.
func hasEnded(id string) error { return exit.Errorf(exit.ToolFailed, "container %s has ended", id) }

// markKill notes in the run's record that workshop kill sends sig. A
// record gone since kill read it is a container its workshop took down
// meanwhile: it has ended, and nothing is sent. A mark that cannot be
// written otherwise is said, and the signal still sent.
func markKill(n *sys.Narrator, r *state.Run, sig unix.Signal) error {
	err := r.MarkKill(int(sig))
	if errors.Is(err, fs.ErrNotExist) {
		return hasEnded(r.ID)
	}
	if err != nil {
		n.Note("could not mark the record of %s: %v (its run may give the wrong reason for its end)", r.ID, err)
	}
	return nil
}

// endingAnyway reports whether another workshop kill has sent, or is
// sending, SIGKILL to the container's first process: its mark in the
// record, written just before the signal. A SIGKILL from an ancestor
// namespace ends any process, a PID 1 too.
func endingAnyway(r *state.Run) bool { return r.KillSent(int(unix.SIGKILL)) }

// stopsByDefault reports whether sig's default action stops a process
// (signal(7)): the terminal's stop signals. SIGSTOP, which no process can
// catch, is said apart.
func stopsByDefault(sig unix.Signal) bool {
	return sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

// stoppedSoon reports whether process pid stops by sig, just sent. A
// signal is acted on when one of the process's threads next takes it,
// which on a slow, loaded machine (the emulated arm64 test VM) takes a
// while: the answer waits a second after sig is no longer pending, for
// the stop to reach every thread. A stop the kernel discards (an orphaned
// group's) is discarded as it is taken. A process that takes no signal
// now (stopped by a tracer, dying, in a frozen cgroup) is not waited on
// past a few seconds.
func stoppedSoon(pid int, sig unix.Signal) bool {
	pendingLimit := time.Now().Add(5 * time.Second)
	for deadline := time.Now().Add(time.Second); ; time.Sleep(2 * time.Millisecond) {
		st, _ := state.StatusField(pid, "State")
		if strings.HasPrefix(st, "T") {
			return true
		}
		// Running, or asleep: it takes the signal when it next runs.
		takes := st != "" && strings.ContainsAny(st[:1], "RSD")
		if pending, _ := state.SignalPending(pid, int(sig)); pending && takes && time.Now().Before(pendingLimit) {
			deadline = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// ownPIDNamespace reports whether process pid is in another PID namespace
// than workshop's (where it is the first process, PID 1).
func ownPIDNamespace(pid int) bool {
	theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	ours, err2 := os.Readlink("/proc/self/ns/pid")
	return err1 == nil && err2 == nil && theirs != ours
}
