package exit

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// The code that catches the stop signals (a run that has something to undo)
// registers its channel here rather than with signal.Notify directly, so
// that GuardQuit knows whether anyone handles a SIGQUIT.
var (
	catchersMu sync.Mutex
	catchers   = map[chan<- os.Signal]bool{}
)

// Notify is signal.Notify(c, sigs...), noted as a catcher of the signals.
func Notify(c chan<- os.Signal, sigs ...os.Signal) {
	catchersMu.Lock()
	catchers[c] = true
	catchersMu.Unlock()
	signal.Notify(c, sigs...)
}

// Stop is signal.Stop(c); c is no longer a catcher. Stopping twice is
// harmless.
func Stop(c chan<- os.Signal) {
	signal.Stop(c)
	catchersMu.Lock()
	delete(catchers, c)
	catchersMu.Unlock()
}

func caught() bool {
	catchersMu.Lock()
	defer catchersMu.Unlock()
	return len(catchers) > 0
}

// GuardQuit keeps Ctrl-\ (SIGQUIT), and the fault signals kill(1) can send
// (FaultSignals: kill -ABRT, kill -SEGV…), from showing a Go stack dump:
// left to the Go runtime, they print every goroutine's stack and exit 2, in
// every command and moment where no code of workshop catches them
// (`workshop ps`, a lab check, a run before it makes anything). Guarded,
// workshop quits as any program does, with 128+n and a sentence on w,
// unless a catcher (Notify) is registered: that one stops its run, and
// undoes what it made.
func GuardQuit(w io.Writer) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, append([]os.Signal{unix.SIGQUIT}, FaultSignals...)...)
	go func() {
		for s := range c {
			if caught() {
				continue
			}
			sig := s.(unix.Signal)
			if sig == unix.SIGQUIT {
				fmt.Fprintln(w, "workshop: quit (SIGQUIT)")
			} else {
				fmt.Fprintf(w, "workshop: stopped by %s, sent by another process\n", unix.SignalName(sig))
			}
			os.Exit(SignalBase + int(sig))
		}
	}()
}
