package namespaces

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Signals workshop gets while the container runs, passed on to it.

// forwardSignals passes the stop signals (exit.StopSignals) on to the
// container until Wait has collected it. A PID 1 without a handler for them
// ignores them: the lesson of --init.
func (c *Container) forwardSignals(sigs chan os.Signal) {
	c.stopForwarding = make(chan struct{})
	c.forwardingDone = make(chan struct{})
	go func() {
		defer close(c.forwardingDone)
		defer exit.Stop(sigs)
		for {
			select {
			case s := <-sigs:
				sig := s.(syscall.Signal)
				if sig == unix.SIGTSTP {
					c.suspend()
					continue
				}
				// Only once the child has exec'd the command, or its init
				// has taken over passing signals on, does a signal go on
				// to the container.
				// Still workshop's init, before the command: a Go program
				// as PID 1 would only exit 2 with no word. A stop signal
				// stops the container there; SIGUSR1/2 are for the
				// command, which is not there yet.
				if !slices.Contains(exit.StopSignals, os.Signal(sig)) && !c.child.PastSetup() {
					c.n.Note("workshop got %s before the container's command ran: not passed on", sys.SignalName(sig))
					continue
				}
				c.endMu.Lock()
				c.passOn(sig)
				c.endMu.Unlock()
			case <-c.stopForwarding:
				return
			}
		}
	}()
}

// passOn passes sig on to the container, for forwardSignals, which holds
// endMu (its state is guarded by it): a container whose first process has
// ended gets no kill, but a note.
func (c *Container) passOn(sig syscall.Signal) {
	if c.ended {
		c.n.Note("workshop got %s as the container ended: there is nothing to pass it on to", sys.SignalName(sig))
		return
	}
	if c.child.StopBeforeExec(c.n, sig, "container") {
		return
	}
	name := sys.SignalName(sig)
	var note string
	switch {
	case c.stopGrace == 0 || !slices.Contains(exit.StopSignals, os.Signal(sig)):
		note = fmt.Sprintf("workshop got %s: passing it on to the container", name)
	case c.stopPassed:
		// The second: the cgroup's watch kills the container
		// now, and says so.
		return
	default:
		// Said here, with the kill, and not by the watch: two
		// goroutines' notes came in either order.
		c.stopPassed = true
		// A second SIGHUP does not kill at once: a terminal's
		// hang-up may come from its shell and from workshop's
		// own watch (watchTerminal).
		again := name + " again"
		if sig == unix.SIGHUP {
			again = "SIGTERM"
		}
		note = fmt.Sprintf("workshop got %s: passing it on to the container; if it has not ended in %s, its whole cgroup is killed (send %s to kill it now)", name, c.stopGrace, again)
	}
	// The note and its kill together: a second signal, sent as
	// soon as the note is read, made the watch say its own
	// between them.
	c.n.Together(func(n *sys.Narrator) {
		n.Note("%s", note)
		if n.Kill(c.Pid(), sig) == nil && sig == unix.SIGHUP {
			c.passedSIGHUP = time.Now()
		}
	})
	// Stopped by suspend, and workshop in the background since (bg): the
	// signal waits until the container goes on. Continued in the
	// background, an interactive PID 1 that ignores it would spin there,
	// and never get the terminal back.
	if c.stopped != nil {
		c.n.Note("the container is stopped (workshop was stopped, then continued in the background): the signal waits until it goes on, with fg; SIGKILL (kill -KILL of the pid the clone returned) ends it now")
	}
}

func (c *Container) stopSignals() {
	if c.stopForwarding == nil {
		return
	}
	select {
	case <-c.stopForwarding:
	default:
		close(c.stopForwarding)
	}
	<-c.forwardingDone
}
