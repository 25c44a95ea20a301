// Package guard installs, as early as a Go program can (from an init
// function that runs before those of most packages), workshop's answer to
// signals that Go answers badly for a student:
//
//   - The stop signals (exit.StopSignals) are received from here on and
//     dispatched under one lock (exit.Route): to the code that catches
//     them, which has something to undo, or, with none, carried out there
//     and then. Left to Go, a Ctrl-C that came before a run caught it could
//     end workshop late, the run's mount and cgroup made and left. And
//     SIGQUIT (Ctrl-\) and the fault signals kill(1) can send (SIGABRT,
//     SIGSEGV…: exit.FaultSignals), which Go answers with every goroutine's
//     stack and exit 2, quit with 128+n and a sentence. (In the first
//     millisecond or two of a process, before this init has run, the
//     runtime's start and the inits of the packages it imports, Go's
//     answer stands: the stack for a SIGQUIT, the end for a SIGINT, which
//     comes before any run makes anything.)
//   - SIGPIPE from a closed narration pipe (workshop … 2>&1 | head): Go ends
//     the program where it stands, its mount, cgroup and layer left behind.
//     Caught, the write only fails with EPIPE and the teardown happens.
//     (Caught, not ignored: an ignored signal stays ignored across execve,
//     in the container's command too; a caught one is reset there.)
//   - Signals 32 and 34, which Go leaves deadly and cannot catch: ignored
//     (rtsig), and put back in every child before it runs a program.
//
// Package main imports it. A re-executed child (workshop __init …) has its
// own handling, and is left alone.
package guard

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/rtsig"
)

// childArg is reexec.Arg, the first argument of a re-executed child; not
// imported, so that this package's init waits for few others.
const childArg = "__init"

func init() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		return
	}
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	exit.Route(os.Stderr)
	rtsig.Ignore()
}
