// Package guard installs, as early as a Go program can (from an init
// function that runs before those of most packages), workshop's answer to
// signals that Go answers badly for a student:
//
//   - SIGQUIT (Ctrl-\), and the fault signals kill(1) can send (SIGABRT,
//     SIGSEGV…: exit.FaultSignals): Go prints every goroutine's stack and
//     exits 2. Guarded (exit.GuardQuit), workshop quits with 128+n and a
//     sentence, unless code that has something to undo catches it itself.
//     (In the first milliseconds of a process, before this init has run,
//     Go's answer stands.)
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
	exit.GuardQuit(os.Stderr)
	rtsig.Ignore()
}
