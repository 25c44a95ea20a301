package namespaces

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// The terminal a container is given: whose process group has it, what a
// hang-up or a stop leaves, and taking it back when the container ends.

// watchCalls counts the calls watchTerminal made, for the narration.
// ppoll are the looks at the terminal every tenth of a second, last the
// calls of the look once the container ended; neither counts the one
// printed, that found the hang-up.
type watchCalls struct{ waitid, ppoll, last int }

// watchTerminal watches, every tenth of a second while the command has
// the terminal, for what nothing else would see:
//
//   - The terminal hanging up (its window closed, its ssh session dropped,
//     its shell killed). The kernel sends SIGHUP to the terminal's
//     controlling process, the shell, and once that ends to the foreground
//     group, the container's, where a PID 1 without a handler drops it;
//     never to workshop, in the background. An interactive bash passes its
//     own on to its jobs, workshop among them; sh and a killed shell do not. The
//     container would outlive the terminal, for ever. Unless it got one
//     already, workshop sends itself the SIGHUP a shell sends its jobs,
//     which ends the container as any stop signal does (passed on, then,
//     where a cgroup watch is, its group killed StopGrace later); with no
//     such watch (steps 3 and 5), it kills the container hangupGrace later:
//     nobody can reach it any more. Unless workshop was started with SIGHUP
//     ignored (nohup): then the container goes on, as nohup promises.
//   - With resumeCtrlZ, a Ctrl-Z: a shell would take the terminal back and
//     resume the job later; here nothing would, and the terminal would stay
//     with a stopped program. os/exec's wait does not report stops: they
//     are looked for with waitid(WSTOPPED|WNOWAIT|WNOHANG), which reports
//     without collecting anything.
//
// It returns how many calls it made and did not print, for the narration
// to count.
func (c *Container) watchTerminal(waited <-chan struct{}) (calls watchCalls) {
	pid := c.Pid()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var kill <-chan time.Time
	// look polls the terminal once, counting the calls in count; a
	// terminal that hung up says so from then on.
	look := func(count *int) bool {
		hup, n, _ := c.n.TerminalHungUp(c.tty)
		*count += n
		if hup {
			*count-- // the call that found it is printed
			c.hungUp = true
		}
		return hup
	}
	told := false // of the stop under way, left as it is: said once a stop
	// workshop stopped from outside (kill -TSTP or -STOP of its pid; a
	// Ctrl-Z goes to the container) loses the terminal to the shell, and
	// the shell's fg gives it back to workshop's process group, not to
	// the container's, where an interactive PID 1 then reads from the
	// background for ever. On SIGCONT, workshop hands it back to the
	// group of the container's that had it, seen at the last tick.
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, unix.SIGCONT)
	defer signal.Stop(cont)
	containerFg := 0
	for {
		select {
		case <-cont:
			if c.suspending.Load() {
				continue // suspend gives the terminal back itself
			}
			// A container suspend stopped goes on once workshop has
			// the terminal again; the terminal goes back to it first.
			c.resumeIfForeground()
			if now, err := c.foregroundGroup(); err == nil {
				c.handBack(containerFg, now)
			}
			continue
		case <-waited:
			// The command may have ended of the terminal's own SIGHUP,
			// before a tick saw the hang-up: looked for once more, so as
			// not to take back a terminal that is gone.
			if !c.hungUp && look(&calls.last) {
				c.n.Note("the terminal hung up: the container ended meanwhile")
			}
			return calls
		case <-kill:
			kill = nil
			select {
			case <-waited:
				continue // it ended as the grace did: nothing to kill
			default:
			}
			if c.killLeftByTerminal() {
				c.hangupKilled = true
			}
			continue
		case <-tick.C:
		}
		if c.hungUp {
			continue // waiting for the end, or for the kill
		}
		// bash's fg of a job it runs in the background sends no SIGCONT:
		// the terminal handed back is seen here.
		c.resumeIfForeground()
		// One read of the terminal's foreground group a tick (the count
		// said after says so).
		if now, err := c.foregroundGroup(); err == nil {
			c.handBack(containerFg, now)
			if c.ownsGroup(now) {
				containerFg = now // the container's (never the shell's, which has it while workshop is stopped)
				c.lastFg.Store(int64(now))
			}
		}
		if look(&calls.ppoll) {
			// A SIGHUP passed on within the window came with the
			// hang-up; one that came earlier, sent by someone, did not
			// end the container.
			c.endMu.Lock()
			passed := c.passedSIGHUP
			c.endMu.Unlock()
			// time.Time keeps the monotonic clock, which a change of
			// the wall clock (NTP, a VM resumed) does not move.
			if exit.IgnoredAtStart(unix.SIGHUP) {
				// nohup's promise: the run goes on without its terminal.
				c.n.Note("the terminal hung up; workshop was started with SIGHUP ignored (nohup), so the container goes on without it ('workshop kill' stops it)")
				continue
			}
			if !passed.IsZero() && time.Since(passed) < hangupSIGHUPWindow {
				c.n.Note("the terminal hung up; workshop got a SIGHUP just before (a shell passes its own on to its jobs), and passed it on")
			} else {
				// Together: the kill's line before the note the
				// forwarder prints on catching the signal it sends.
				c.n.Together(func(n *sys.Narrator) {
					n.Note("the terminal hung up: the kernel sends its SIGHUP to the terminal's controlling process (the shell) and, when that ends, to the container's process group, never to workshop's; workshop sends itself the SIGHUP a shell sends its jobs")
					n.Kill(os.Getpid(), unix.SIGHUP)
				})
			}
			if c.stopGrace == 0 {
				t := time.NewTimer(hangupGrace)
				defer t.Stop()
				kill = t.C
			}
			continue
		}
		if !c.resumeCtrlZ {
			continue
		}
		var info unix.Siginfo
		calls.waitid++
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WNOWAIT|unix.WNOHANG, nil); err != nil {
			continue // collected meanwhile: waited is closed at once
		}
		childPid, code, status := sys.ChildInfo(&info)
		switch {
		case childPid != pid || code != sys.CLDStopped:
			told = false // running (or resumed): a next stop is said again
		case status == int(unix.SIGTSTP):
			c.unlessEnded(func() {
				c.n.Note("the command was stopped by SIGTSTP (Ctrl-Z): there is no shell here to take the terminal back and resume it later, so workshop resumes it now")
				c.n.Kill(-pid, unix.SIGCONT) // its process group: the whole job
			})
		case status == int(unix.SIGSTOP) && (c.suspending.Load() || c.leftStopped()):
			// suspend's own stop, of workshop too: not said.
		case status == int(unix.SIGSTOP) && suspendedItself(pid):
			// top on Ctrl-Z: not a stop on purpose, left held.
			c.unlessEnded(func() {
				c.n.Note("%s, so workshop resumes it now", selfSuspendNote(pid))
				c.n.Kill(-pid, unix.SIGCONT)
			})
		case status == int(unix.SIGSTOP) && !told:
			told = true
			// "kill -CONT -- -PID" is refused by dash's and busybox's kill
			// ("Illegal number"); the signal first, then -PID, is taken by
			// every shell's kill and by procps' /bin/kill.
			c.n.Note("%s", stoppedHoldingTerminal(fmt.Sprintf("kill -CONT -%d (its process group)", pid), fmt.Sprintf("kill -KILL -%d", pid)))
		}
	}
}

// killLeftByTerminal kills a container that has not ended hangupGrace
// after its terminal hung up. With a PID namespace, its PID 1 takes every
// process of it along. Without, its process group, and with --init the
// command's too: the init starts it in a group of its own. (A process
// that left its group is out of reach, as after any run without a PID
// namespace: step 4's cgroup holds them all.) It reports whether a kill
// went through.
func (c *Container) killLeftByTerminal() (killed bool) {
	// One that ended as the grace did has nothing to kill.
	c.unlessEnded(func() {
		pid := c.Pid()
		if c.pidNS {
			c.n.Note("the container has not ended %s after its terminal hung up, and nobody can reach it any more: workshop kills its PID 1, and with it its PID namespace", hangupGrace)
			killed = c.n.Kill(pid, unix.SIGKILL) == nil
			return
		}
		groups := []int{pid}
		whose := "its process group"
		if c.init {
			groups = append(groupLeadersAmong(state.Children(pid)), pid)
			whose = "the process groups of its init and of the command"
		}
		c.n.Note("the container has not ended %s after its terminal hung up, and nobody can reach it any more: workshop kills %s", hangupGrace, whose)
		for _, g := range groups {
			if c.n.Kill(-g, unix.SIGKILL) == nil {
				killed = true
			}
		}
	})
	return killed
}

// groupLeadersAmong keeps the pids that lead a process group: the init's
// command does, and an orphan the init adopted (it is a subreaper) need
// not. A group's id cannot be another's while its leader lives, so -pid
// then names that group and no other; a pid that has ended, or leads
// none, is left out (getpgid, a look that changes nothing: not shown).
func groupLeadersAmong(pids []int) []int {
	var leaders []int
	for _, p := range pids {
		if g, err := unix.Getpgid(p); err == nil && g == p {
			leaders = append(leaders, p)
		}
	}
	return leaders
}

// suspendedItself reports whether pid, stopped by SIGSTOP, catches
// SIGTSTP (SigCgt in its /proc/PID/status, of the /proc the caller sees,
// whose pids it uses): a program that has set the terminal (top) catches
// Ctrl-Z's SIGTSTP, puts the terminal back, then stops itself with
// SIGSTOP. Nothing would resume it but a shell's fg, and there is none.
// A kill -STOP on purpose of such a program is taken for the same.
func suspendedItself(pid int) bool {
	caught, ok := state.Catches(pid, int(unix.SIGTSTP))
	return ok && caught
}

// selfSuspendNote says what suspendedItself saw (and read, to see it).
func selfSuspendNote(pid int) string {
	return fmt.Sprintf("the command was stopped by SIGSTOP, and it catches SIGTSTP (SigCgt in /proc/%d/status, read to see it): that is how a program that sets the terminal, as top does, suspends itself on Ctrl-Z; there is no shell here to resume it later", pid)
}

// stoppedHoldingTerminal is the note for a command stopped by SIGSTOP
// (bash's suspend, kill -STOP) while it holds the terminal: workshop
// resumes a Ctrl-Z, but a SIGSTOP is sent on purpose, and resuming it
// would undo it. Nothing typed reaches anyone: it says the way out, the
// commands that resume and end it from another terminal.
func stoppedHoldingTerminal(resume, end string) string {
	return fmt.Sprintf("the command was stopped by SIGSTOP (bash's suspend, kill -STOP) while it has the terminal: nothing typed here reaches it, and no shell here takes the terminal back; from another terminal, %s resumes it, %s ends it", resume, end)
}

// takeTerminalBack makes workshop's process group the terminal's foreground
// again. workshop is in the background then, and a background process that
// changes the foreground group gets SIGTTOU unless it ignores it.
func (c *Container) takeTerminalBack() {
	if c.tty < 0 {
		return
	}
	if c.hungUp {
		c.n.Note("the terminal hung up: there is no terminal to take back, nor settings to put back")
		c.tty = -1
		// SIGTTOU is ignored since the clone (see Start), so that the
		// narration goes on from the background.
		c.n.Because("workshop is done with its terminal: SIGTTOU as it was").RestoreSignals(c.ttou)
		return
	}
	// In the background since (kill -TSTP, then bg), workshop finds the
	// terminal with another process group than its own or the
	// container's: its shell's. Taken, it left the shell reading from the
	// background, and an interactive bash then exits. It stays there, and
	// so does SIGTTOU's ignoring: workshop's last lines, from the
	// background, would stop it under stty tostop, the rt_sigaction's own
	// first.
	if now, err := c.n.ForegroundGroup(c.tty); err == nil && now != unix.Getpgrp() && !c.containerGroup(now) {
		c.n.Note("workshop runs in the background now (bg): the terminal is with process group %d, its shell's, and stays there; SIGTTOU stays ignored until workshop exits, so that its last lines are written", now)
		c.tty = -1
		return
	}
	// The change of the foreground group, from the background, gets
	// SIGTTOU unless it is ignored: put back after.
	defer c.n.Because("workshop has its terminal back: SIGTTOU as it was").RestoreSignals(c.ttou)
	c.n.SetForegroundGroup(c.tty, unix.Getpgrp())
	if c.settings != nil {
		c.n.RestoreTerminalSettings(c.tty, c.settings)
	}
	c.tty = -1
}

// NoTerminalFor says why a container whose input is stdin, a terminal,
// and whose output is stdout would not be handed the terminal (see Start),
// or "" when it would be.
func NoTerminalFor(stdin *os.File, stdout io.Writer) string {
	switch {
	case !OwnsTerminal(int(stdin.Fd())):
		return "workshop runs in the background"
	case writesToPipe(stdout):
		return "workshop's output goes to a pipe"
	}
	return ""
}

// handBack gives the terminal back to the container's process group fg
// (the last one seen with it) when workshop's own group has it: the
// shell's fg gave it there, after workshop was stopped from outside (kill
// -TSTP, -STOP), where an interactive PID 1 could not read it (and spun).
// On SIGCONT, and at each tick: bash's fg of a job it had continued in the
// background (bg) sends no SIGCONT.
// now is the terminal's foreground group, just read.
func (c *Container) handBack(fg, now int) {
	if fg <= 0 || c.hungUp || c.leftStopped() {
		return // suspend's stop: resumeIfForeground hands it back
	}
	if now != unix.Getpgrp() {
		return
	}
	c.unlessEnded(func() {
		// Ended while workshop was stopped (awaitEnd could not say so
		// then), or the group is no longer its.
		if c.firstIsZombie() || !c.ownsGroup(fg) {
			return
		}
		c.n.Note("workshop was stopped, and continued in the foreground (fg): the terminal came back to its process group; it goes back to the container's process group %d, which had it", fg)
		c.n.SetForegroundGroup(c.tty, fg)
	})
}

// containerGroup reports whether process group g was the container's, or
// is no one's now: its first process's, the last one seen with the
// terminal, or a group whose leader has ended (the container's, ended).
func (c *Container) containerGroup(g int) bool {
	// (No child: Start's undo, after a failed start, takes the terminal
	// back with a Container of its own.)
	if c.child != nil && g == c.Pid() || int64(g) == c.lastFg.Load() {
		return true
	}
	p, ok := state.Stat(g)
	return !ok || p.Ended() || p.Group != g
}

// leftStopped reports whether suspend left the container stopped
// (workshop continued in the background).
func (c *Container) leftStopped() bool {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	return c.stopped != nil
}

// foregroundGroup reads the terminal's foreground process group
// (ioctl TIOCGPGRP), counted in pgrpReads: watchTerminal reads it at every
// tick, and Wait says how many times, not each.
func (c *Container) foregroundGroup() (int, error) {
	c.pgrpReads.Add(1)
	return unix.IoctlGetInt(c.tty, unix.TIOCGPGRP)
}

// OwnsTerminal reports whether fd is a terminal whose foreground process
// group is workshop's: only then may workshop hand it to the container.
func OwnsTerminal(fd int) bool {
	if !term.IsTerminal(fd) {
		return false
	}
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
