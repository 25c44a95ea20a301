package namespaces

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/rtsig"
	"golang.org/x/sys/unix"
)

// What the init keeps from its command, and what it passes on: a reason
// for each one kept, for `workshop kill` to give; Go's reserved signals
// kept (os/signal cannot catch them, so asking it to passes nothing on);
// the signals a student sends passed on; SIGKILL and SIGSTOP neither.
func TestInitPassesOnAllButWhatItKeeps(t *testing.T) {
	for sig, why := range initKept {
		if why == "" {
			t.Errorf("%v is kept with no reason given", sig)
		}
	}
	for _, sig := range rtsig.Reserved {
		if _, kept := InitKeeps(sig); !kept {
			t.Errorf("signal %d, which Go reserves, is not among those the init keeps", sig)
		}
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGABRT, unix.SIGSEGV, unix.SIGCONT, unix.SIGUSR1, unix.SIGWINCH, 35, 64} {
		if _, kept := InitKeeps(sig); kept || !slices.Contains(initSignals, os.Signal(sig)) {
			t.Errorf("%v is not passed on", sig)
		}
	}
	// The signals that are the init's own business: passed on, SIGCHLD
	// would tell the command of children it never had, SIGURG would
	// pester it with each of the Go runtime's preemptions, and the init's
	// own SIGPIPE, SIGXFSZ, SIGTTIN or SIGTTOU (its narration's pipe
	// closed, a file of its own at its size limit, a read or write of the
	// terminal from the background) would end or stop the command.
	for sig, reason := range map[unix.Signal]string{
		unix.SIGCHLD: "one of its children ended",
		unix.SIGURG:  "the Go runtime",
		unix.SIGPIPE: "the init's own writes raise it",
		unix.SIGXFSZ: "the init's own writes raise it",
		unix.SIGTTIN: "a read of the terminal from the background",
		unix.SIGTTOU: "a write to the terminal from the background",
	} {
		why, kept := InitKeeps(sig)
		if !kept || !strings.Contains(why, reason) {
			t.Errorf("InitKeeps(%v) = %q, %v; want kept, because %s", sig, why, kept, reason)
		}
		if slices.Contains(initSignals, os.Signal(sig)) {
			t.Errorf("%v, which the init keeps, is passed on", sig)
		}
	}
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGSTOP} {
		if _, kept := InitKeeps(sig); kept || slices.Contains(initSignals, os.Signal(sig)) {
			t.Errorf("%v, which no process can catch, is said kept or passed on", sig)
		}
	}
}
