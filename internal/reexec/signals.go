package reexec

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/workshop-dev/workshop/internal/exit"
	"golang.org/x/sys/unix"
)

// Held are the signals a child holds until its final execve: a Ctrl-C on
// its terminal, or one workshop passed on. A Go program dies of them with
// status 2 and nothing said (and a PID 1 cannot even be killed by them);
// held, the child can stop with a sentence and 128+n instead. Go's handlers
// are reset by execve: the student's command gets the default dispositions.
type Held struct{ ch chan os.Signal }

// HoldSignals starts holding SIGINT, SIGTERM, SIGHUP and SIGQUIT.
func HoldSignals() *Held {
	h := &Held{ch: make(chan os.Signal, 4)}
	signal.Notify(h.ch, exit.StopSignals...)
	return h
}

// Stopped reports whether a held signal came, and if so says so on stderr
// and returns the status to exit with (128+n). Call it just before the
// execve: a signal that comes after it is the command's. A nil Held holds
// nothing.
func (h *Held) Stopped() (int, bool) {
	if h == nil {
		return 0, false
	}
	select {
	case s := <-h.ch:
		sig := s.(unix.Signal)
		fmt.Fprintf(os.Stderr, "workshop: interrupted by %s before the container's command ran; it never ran\n", unix.SignalName(sig))
		return exit.SignalBase + int(sig), true
	default:
		return 0, false
	}
}

// Release stops holding: the signals' default actions are back (for a
// child that goes on as an init, with handlers of its own).
func (h *Held) Release() {
	if h != nil {
		signal.Stop(h.ch)
	}
}
