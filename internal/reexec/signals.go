package reexec

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Held are the signals a child holds until its final execve: a Ctrl-C on
// its terminal, or one workshop passed on. A Go program as PID 1 ends on
// them with status 2 and nothing said (Go raises SIGINT, SIGTERM and
// SIGHUP again under the default, which a PID 1 drops, then exits 2);
// held, the child can stop with a sentence and 128+n instead. Go's handlers
// are reset by execve: the student's command gets the default dispositions.
type Held struct{ ch chan os.Signal }

// HoldSignals starts holding the stop signals (exit.StopSignals), but
// those the child was started with ignored, which stay ignored (exit.Heeded).
func HoldSignals() *Held {
	h := &Held{ch: make(chan os.Signal, 4)}
	signal.Notify(h.ch, exit.Heeded(exit.StopSignals...)...)
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
		fmt.Fprintf(Stderr(), "workshop: interrupted by %s before the container's command ran; it never ran\n", sys.SignalName(sig))
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

var (
	stderrOnce sync.Once
	stderr     *os.File
)

// Stderr is where a re-executed child writes its narration and its
// sentences: a copy of fd 2, close-on-exec so that the command never gets
// it. Go ends a program whose write to fd 1 or 2 finds its pipe closed
// (`workshop … 2>&1 | head`), with status 2 for a PID 1, which SIGPIPE
// cannot kill: the child would die half set up, and its command never run.
// On another descriptor the write only fails, with EPIPE, and the child
// goes on.
//
// With Child.NarrateTo, it is a copy of fd 5, the parent's own stderr, and
// fd 5 itself is closed.
func Stderr() *os.File {
	stderrOnce.Do(func() {
		stderr = os.Stderr
		var from uintptr = 2
		if slices.Contains(os.Args, narrationArg) {
			from = 5
		}
		if fd, err := unix.FcntlInt(from, unix.F_DUPFD_CLOEXEC, 3); err == nil {
			stderr = os.NewFile(uintptr(fd), "stderr")
		}
		if from == 5 {
			unix.Close(5)
		}
	})
	return stderr
}

// Say prints a sentence of a re-executed child on its stderr (Stderr), as
// "workshop: …" on one line whatever a name in it holds (a command named
// with a newline or a terminal's escape, an interpreter's path from a #!
// line): as the parent prints its own (sys.OneLine).
func Say(format string, args ...any) {
	fmt.Fprintf(Stderr(), "workshop: %s\n", sys.OneLine(fmt.Sprintf(format, args...)))
}
