package namespaces

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// PID 1 is special (pid_namespaces(7)):
//   - the kernel does not apply a signal's default action to it: a signal
//     it has no handler for is dropped (only SIGKILL and SIGSTOP sent from
//     an ancestor namespace get through). `sleep` as PID 1 ignores SIGTERM.
//   - every orphan in the namespace becomes its child, and a child that
//     ends stays a zombie until its parent waits for it. A shell or a
//     server as PID 1 rarely waits for children it did not start.
//   - when it dies, the kernel kills every other process of the namespace.
//
// --init puts this tiny init as PID 1 (docker run --init puts tini there):
// it runs the command as its child, passes signals on, reaps every zombie,
// and exits with the command's status.

// stopSignals are exit.TerminalSignals, the signals a terminal or kill(1)
// stops a process with, as the numbers rt_sigaction takes: the container's
// first process drops them until its command runs. The fault signals
// (exit.FaultSignals) are left to Go, which would answer one with a stack
// dump: none reaches it then. workshop stops a container not set up yet
// with SIGKILL, and `workshop kill` sends nothing but SIGKILL and SIGSTOP
// before the command runs (steps/06-container's settingUp). Defaulting them too
// would cost eight more calls, and lines, in every run. One the process
// was started with ignored stays ignored, for the command too (exit.Heeded).
var stopSignals = func() []unix.Signal {
	var sigs []unix.Signal
	for _, s := range exit.Heeded(exit.TerminalSignals...) {
		sigs = append(sigs, s.(unix.Signal))
	}
	return sigs
}()

// initKept are the signals the init does not pass on to the command, and
// why: those that are the init's own business or would be mistaken for it.
// The rest it passes on, every one it can catch, as tini does. (SIGKILL
// and SIGSTOP can be neither caught nor passed on: they act on the init
// itself.) The fault signals (SIGSEGV, SIGABRT…) are passed on too:
// os/signal hands the init only those another process sent (`workshop
// kill --signal ABRT`), which Go would otherwise answer with a stack dump;
// a fault of the init's own is still Go's panic.
var initKept = map[unix.Signal]string{
	unix.SIGCHLD: "it tells the init that one of its children ended, which the init then reaps",
	unix.SIGURG:  "the Go runtime the init is written in interrupts its own goroutines with it",
	unix.SIGPIPE: "the init's own writes raise it (passed on, a closed narration pipe would end the command)",
	unix.SIGXFSZ: "the init's own writes raise it (passed on, a file of the init's grown to its size limit would end the command)",
	unix.SIGTTIN: "a read of the terminal from the background raises it, the init's own too",
	unix.SIGTTOU: "a write to the terminal from the background raises it, the init's own too",
	// glibc keeps 32 and 33 for its threads, musl 34; Go reserves all
	// three (internal/rtsig), and os/signal cannot catch 32 and 34.
	32: "the Go runtime the init is written in reserves it and cannot catch it, and a PID 1 drops a signal it has no handler for",
	33: "the Go runtime the init is written in takes it for itself (it makes setuid and its kin reach every thread)",
	34: "the Go runtime the init is written in reserves it and cannot catch it, and a PID 1 drops a signal it has no handler for",
}

// InitKeeps reports whether workshop's init (--init) keeps sig from its
// command, and why (a clause), for `workshop kill` to say.
func InitKeeps(sig unix.Signal) (why string, kept bool) {
	why, kept = initKept[sig]
	return why, kept
}

// initSignals are the signals the init passes on to the command.
var initSignals = func() []os.Signal {
	var sigs []os.Signal
	for sig := unix.Signal(1); sig <= 64; sig++ {
		if _, kept := initKept[sig]; !kept && sig != unix.SIGKILL && sig != unix.SIGSTOP {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}()

type reaped struct {
	pid int
	ws  unix.WaitStatus
	err error
}

// runInit runs the command as a child of this process and returns the exit
// status the init ends with.
func runInit(n *sys.Narrator, s *spec, rep *sys.ExecReporter) int {
	// Handlers first: a signal that came before them would be dropped (we are
	// PID 1) or would end this Go program. Not for one the init was started
	// with ignored: caught, it would reach the command, which would start
	// with it at its default (exit.Heeded).
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, exit.Heeded(initSignals...)...)

	if !s.has(unix.CLONE_NEWPID) {
		// Not PID 1: orphans would go to the host's init. A subreaper gets
		// them instead, as PID 1 would.
		if err := n.SetChildSubreaper(); err != nil {
			reexec.Say("%v", err)
			return exit.ToolFailed
		}
	}
	path, err := lookPath(s.Args[0], pathOf(s.Env))
	if err != nil {
		reexec.Say("%v", err)
		return exit.NotFound
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   s.Args,
		Env:    s.Env,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		// The command gets its own process group, and the terminal if we
		// have it, as tini does: Ctrl-C then reaches the command once, from
		// the terminal, not also through us.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Foreground: s.Terminal, Ctty: 0},
	}
	if !s.has(unix.CLONE_NEWPID) {
		// No PID namespace whose end kills the command with its init:
		// if the init dies (with workshop: it has PR_SET_PDEATHSIG), so
		// does the command. (This thread, locked, lives as long as the
		// init: the signal comes when the parent thread ends.)
		cmd.SysProcAttr.Pdeathsig = unix.SIGKILL
	}
	n.BeforeFirstChild()
	if err := cmd.Start(); err != nil {
		// The runtime's child could not execve: it has exited already, and
		// os/exec has reaped it and kept only the errno.
		n.Note("the runtime cloned a child for the command, whose execve(%q) failed", path)
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = &os.PathError{Op: "execve", Path: path, Err: errno}
		}
		return execFailed(s.Args[0], err)
	}
	child := cmd.Process.Pid
	// From here on the init passes signals on itself, to a command that
	// runs: tell workshop, which until now stopped the container on one
	// instead of passing it on, and takes a kill before this for one
	// during the set-up, the command never run. (Told before the start,
	// a kill while the init looked the command up and forked was said as
	// the command's.)
	rep.Done()
	reexec.ReportStarted(n, cmd)
	n.Note("the init (pid %d) runs the command as pid %d, passes signals on to it and reaps zombies", os.Getpid(), child)

	// wait4(-1) blocks; it runs beside the signal loop. cmd.Wait is not
	// used: wait4(-1) would take the command's status from under it.
	// WUNTRACED: a command stopped by Ctrl-Z (SIGTSTP) is reported too.
	// It would hold the terminal, stopped, with nothing to resume it.
	done := make(chan reaped)
	go func() {
		for {
			pid, ws, err := n.Wait4(-1, unix.WUNTRACED)
			done <- reaped{pid, ws, err}
			if err != nil || pid == child && !ws.Stopped() {
				return
			}
		}
	}()
	for {
		select {
		case sig := <-sigs:
			n.Kill(child, sig.(syscall.Signal))
		case r := <-done:
			if r.err != nil {
				reexec.Say("the init lost its command: %v", r.err)
				return exit.ToolFailed
			}
			switch {
			case r.ws.Stopped() && r.ws.StopSignal() == unix.SIGTSTP:
				// Ctrl-Z: a shell would take the terminal back and print
				// a prompt; here nothing would, and the terminal would
				// stay with a stopped program. Resumed instead. (Other
				// stops are left: a SIGSTOP sent on purpose, or a read
				// of the terminal from the background, which resuming
				// would only repeat.)
				if r.pid == child {
					n.Note("the command was stopped by SIGTSTP (Ctrl-Z): there is no shell here to take the terminal back and resume it later, so the init resumes it now")
					n.Kill(-r.pid, unix.SIGCONT) // its process group: the whole job
				} else {
					n.Note("pid %d, an orphan that had become the init's child, was stopped by SIGTSTP (Ctrl-Z): the init resumes it", r.pid)
					n.Kill(r.pid, unix.SIGCONT)
				}
				continue
			case r.ws.Stopped() && r.ws.StopSignal() == unix.SIGSTOP && r.pid == child && suspendedItself(r.pid):
				// top on Ctrl-Z (its /proc is this PID namespace's, or
				// the host's without one: pids as the init sees them).
				n.Note("%s, so the init resumes it now", selfSuspendNote(r.pid))
				n.Kill(-r.pid, unix.SIGCONT)
				continue
			case r.ws.Stopped():
				// Reported; it stays stopped until someone resumes it.
				if r.pid == child && s.Terminal && r.ws.StopSignal() == unix.SIGSTOP {
					// The init passes SIGCONT on: a signal to the init's
					// host pid, which workshop said ("the child is pid N
					// on the host"); without a PID namespace, its own.
					resume, end := "kill -CONT PID (PID: the init's host pid, in \"the child is pid PID on the host\" above)", "kill -KILL PID"
					if !s.has(unix.CLONE_NEWPID) {
						resume, end = fmt.Sprintf("kill -CONT %d (the init's pid)", os.Getpid()), fmt.Sprintf("kill -KILL %d", os.Getpid())
					}
					n.Note("%s", stoppedHoldingTerminal(resume, end))
				}
				continue
			case r.pid != child:
				n.Note("reaped pid %d, an orphan that had become the init's child", r.pid)
				continue
			}
			return statusOf(r.ws)
		}
	}
}

// statusOf turns a wait status into the shell's exit status.
func statusOf(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return exit.SignalBase + int(ws.Signal())
	}
	return ws.ExitStatus()
}
