package namespaces

import (
	"os"
	"slices"
	"testing"

	"github.com/workshop-dev/workshop/internal/rtsig"
	"golang.org/x/sys/unix"
)

// The init passes on every signal but those it keeps, which InitKeeps
// names for `workshop kill`: the two lists are one.
func TestInitPassesOnAllButWhatItKeeps(t *testing.T) {
	for sig := unix.Signal(1); sig <= 64; sig++ {
		passed := slices.Contains(initSignals, os.Signal(sig))
		why, kept := InitKeeps(sig)
		switch {
		case sig == unix.SIGKILL || sig == unix.SIGSTOP:
			if passed || kept {
				t.Errorf("%v: passed %v, kept %v; want neither (it cannot be caught)", sig, passed, kept)
			}
		case passed == kept:
			t.Errorf("%v: passed %v, kept %v (%q); want one or the other", sig, passed, kept, why)
		case kept && why == "":
			t.Errorf("%v is kept with no reason given", sig)
		}
	}
	// os/signal cannot catch the runtime's reserved signals: asking it
	// to passes nothing on, and kill must say so.
	for _, sig := range rtsig.Reserved {
		if _, kept := InitKeeps(sig); !kept {
			t.Errorf("signal %d, which Go reserves, is not among those the init keeps", sig)
		}
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGABRT, unix.SIGCONT, unix.SIGUSR1, 35, 64} {
		if !slices.Contains(initSignals, os.Signal(sig)) {
			t.Errorf("%v is not passed on", sig)
		}
	}
}
