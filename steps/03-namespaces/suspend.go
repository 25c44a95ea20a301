package namespaces

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// suspend answers a SIGTSTP to workshop: a Ctrl-Z where the container was
// not handed the terminal (its input a pipe: the container, in a session
// of its own, gets no Ctrl-Z), or a kill -TSTP of workshop's pid. Stopped
// alone, workshop left its container running: a loop went on, its output
// piling up in a pipe nobody copied, and an interactive PID 1 spun on a
// terminal the shell had taken back. Now the container's process groups
// are stopped first (SIGSTOP, which a PID 1 cannot ignore from outside),
// then workshop itself, by SIGTSTP under the kernel's default, so that its
// shell sees a job stopped as by Ctrl-Z. Once continued, the container
// goes on too (resumeIfForeground): at once where it was not handed the
// terminal; where it was, only once workshop has the terminal again (fg),
// which goes back to the container's group first.
//
// Called by forwardSignals, which holds no lock; suspend takes endMu, so
// that no group is signalled once the first process has ended.
func (c *Container) suspend() {
	// The kernel does not stop an orphaned process group on SIGTSTP:
	// nobody would continue it (no process of it has a parent in another
	// group of its session, as a shell is). workshop started by setsid, or
	// whose shell has gone, is such a group: then nothing is stopped.
	if orphanedGroup() {
		c.n.Note("workshop got SIGTSTP, but its process group is orphaned (no shell of its session is its parent, to continue it): the kernel would not stop it, and workshop leaves its container running too")
		return
	}
	c.endMu.Lock()
	defer c.endMu.Unlock()
	c.suspending.Store(true)
	defer c.suspending.Store(false)
	var groups []int
	var settings *unix.Termios // the terminal's, as the container had it
	fg := 0                    // the terminal's foreground group, where it is the container's
	if p := c.stopped; p != nil {
		// Stopped already, and still (workshop was continued in the
		// background, bg): only workshop stops now.
		groups, fg, settings = p.groups, p.fg, p.settings
		c.n.Note("workshop got SIGTSTP: its container is stopped already; it stops itself")
	} else if !c.ended && !c.firstIsZombie() {
		if c.tty >= 0 {
			if g, err := c.foregroundGroup(); err == nil && c.ownsGroup(g) {
				fg = g
			}
		}
		groups = c.groups(fg)
		c.n.Note("workshop got SIGTSTP: it stops the container first (SIGSTOP to its process groups: a PID 1 cannot ignore that one from outside), then itself; fg goes on with both")
		if fg > 0 {
			// A program that has the terminal set it as it needs it
			// (a shell's line editing, top: no echo, no lines). A
			// SIGSTOP gives it no chance to undo that before the shell
			// takes the terminal back and sets its own, nor to redo it
			// after fg: workshop keeps the settings for it.
			if t, err := c.n.Because("the settings the container's program set (its line editing, no echo), put back before it goes on: SIGSTOP lets it neither undo nor redo them, and the shell sets its own meanwhile").TerminalSettings(c.tty); err == nil {
				settings = t
			}
		}
		for i, g := range groups {
			c.n.Kill(-g, unix.SIGSTOP)
			if i == 0 && len(groups) > 1 {
				// The first process (--init's init, or a shell) stopped
				// before its children are: stopped after them, it would
				// see them stop, and say so (or resume a Ctrl-Z's stop).
				awaitStopped(c.Pid())
			}
		}
	} else {
		c.n.Note("workshop got SIGTSTP: it stops itself; its container has ended")
	}
	// The three calls together, the line of the stop printed as workshop
	// goes on: no other goroutine's line (a --timeout's kill, made at its
	// time) comes between, as if it had come before the stop.
	c.n.Together(func(n *sys.Narrator) {
		saved := sys.DefaultSignals(unix.SIGTSTP)
		n.Because("workshop caught SIGTSTP to stop its container first; under the default again, the signal stops it").ReportSet(saved)
		n.Because("workshop stops itself, as a Ctrl-Z stops a program: its shell sees the job stopped").StopSelf(unix.SIGTSTP)
		n.Because("workshop goes on: SIGTSTP is caught again").RestoreSignals(saved)
	})
	if len(groups) == 0 {
		return
	}
	c.stopped = &stoppedContainer{groups: groups, fg: fg, settings: settings}
	if !c.resumeIfForegroundLocked() {
		c.n.Note("workshop goes on in the background (bg): the container, which had the terminal, stays stopped until workshop is in the foreground again (fg); an interactive program there could not read the terminal")
	}
}

// stoppedContainer is what suspend stopped and has not continued yet: the
// container's process groups, and the terminal's foreground group among
// them (0: none).
type stoppedContainer struct {
	groups   []int
	fg       int
	settings *unix.Termios // the terminal's, as the container had it (nil: not read)
}

// resumeIfForeground continues the container suspend stopped, once
// workshop has the terminal again (fg), or at once where the container
// was not handed the terminal. Called by watchTerminal on SIGCONT and at
// each tick: bash's fg of a job it runs in the background sends no
// SIGCONT, it only hands the terminal over.
func (c *Container) resumeIfForeground() {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	c.resumeIfForegroundLocked()
}

// resumeIfForegroundLocked is resumeIfForeground, endMu held; it reports
// whether nothing is left stopped.
func (c *Container) resumeIfForegroundLocked() bool {
	p := c.stopped
	if p == nil {
		return true
	}
	if c.tty >= 0 {
		if now, err := c.foregroundGroup(); err != nil || now != unix.Getpgrp() {
			// In the background: the terminal is another's; or it cannot
			// be told (the terminal hung up: its watch ends the run).
			return false
		}
	}
	c.stopped = nil
	if c.ended || c.firstIsZombie() {
		c.n.Note("workshop goes on; its container ended while it was stopped (killed): there is nothing to continue")
		return true
	}
	if p.fg > 0 {
		// fg gave the terminal to workshop's process group; an
		// interactive program of the container's needs it back before
		// it goes on.
		c.n.Note("workshop was continued in the foreground (fg): the terminal came back to its process group; it goes back to the container's process group %d, which had it", p.fg)
		if p.settings != nil {
			c.n.Because("put back the settings the container's program had when it was stopped (the shell set its own meanwhile)").RestoreTerminalSettings(c.tty, p.settings)
		}
		c.n.SetForegroundGroup(c.tty, p.fg)
	}
	c.n.Note("workshop goes on, and so does the container (SIGCONT to its process groups)")
	for i := len(p.groups) - 1; i >= 0; i-- {
		c.n.Kill(-p.groups[i], unix.SIGCONT)
	}
	return true
}

// firstIsZombie reports whether the container's first process has ended,
// not yet collected (awaitEnd may be waiting for endMu to say so).
func (c *Container) firstIsZombie() bool {
	p, ok := state.Stat(c.Pid())
	return !ok || p.Ended()
}

// ownsGroup reports whether process group g is the container's: its
// leader is the container's first process or one of its descendants.
// (A group whose leader has ended is not known to be, and is left alone:
// the terminal's foreground may be the student's own shell's.)
func (c *Container) ownsGroup(g int) bool {
	if g <= 0 || g == unix.Getpgrp() {
		return false
	}
	if p, ok := state.Stat(g); !ok || p.Group != g {
		return false
	}
	first := c.Pid()
	for pid, depth := g, 0; pid > 1 && depth < 4096; depth++ {
		if pid == first {
			return true
		}
		p, ok := state.Stat(pid)
		if !ok {
			return false
		}
		pid = p.Parent
	}
	return false
}

// orphanedGroup reports whether workshop's process group is orphaned, as
// the kernel's is_current_pgrp_orphaned judges it: no process of the group
// has a parent in another group of the same session. Read from /proc.
func orphanedGroup() bool {
	own, sid := unix.Getpgrp(), 0
	if s, err := unix.Getsid(0); err == nil {
		sid = s
	}
	all, err := state.Pids()
	if err != nil {
		return false // unknown: stopped as usual
	}
	for _, pid := range all {
		p, ok := state.Stat(pid)
		if !ok || p.Group != own {
			continue
		}
		if parent, ok := state.Stat(p.Parent); ok && parent.Group != own && parent.Session == sid {
			return false
		}
	}
	return true
}

// groups are the container's process groups, as the host numbers them:
// its first process's, then those of its descendants (--init's command,
// an interactive shell's jobs), and fg, the terminal's foreground group,
// where the container has the terminal. Never workshop's own.
func (c *Container) groups(fg int) []int {
	own := unix.Getpgrp()
	var groups []int
	add := func(g int) {
		if g > 0 && g != own && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	// Every descendant's: --init's command, and an interactive shell's
	// background jobs below it, have groups of their own.
	first := c.Pid()
	queue := []int{first}
	for seen := 0; len(queue) > 0 && seen < 100000; seen++ {
		pid := queue[0]
		queue = queue[1:]
		if p, ok := state.Stat(pid); ok {
			add(p.Group)
		}
		queue = append(queue, state.Children(pid)...)
	}
	if c.ownsGroup(fg) {
		add(fg)
	}
	return groups
}

// awaitStopped waits, a fifth of a second at most, until every thread of
// pid is stopped (T in /proc/PID/task/TID/status): a SIGSTOP is taken by
// each thread as it next runs, and a thread of --init's init woken in its
// wait4 looks at its children once more before it stops; were the command
// stopped by then, the init would see that stop, and say so.
func awaitStopped(pid int) {
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if allStopped(pid) {
			return
		}
	}
}

// allStopped reports whether every thread of pid is stopped, or pid is gone
// (or a zombie: nothing of it runs).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread's /proc/TID is there too, hidden from listings.
		if p, ok := state.Stat(tid); ok && p.State != 'T' && !p.Ended() {
			return false // (not ok: that thread ended)
		}
	}
	return true
}
