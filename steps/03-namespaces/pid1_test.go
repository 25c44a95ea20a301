package namespaces

import (
	"os"
	"slices"
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
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGSTOP} {
		if _, kept := InitKeeps(sig); kept || slices.Contains(initSignals, os.Signal(sig)) {
			t.Errorf("%v, which no process can catch, is said kept or passed on", sig)
		}
	}
}
