package testbin

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// The tests send SIGINT and SIGHUP to the programs they start, which
// inherit this test binary's dispositions, and workshop leaves a signal it
// was started with ignored ignored (exit.Heeded). `go test` catches SIGINT,
// so the test binaries it starts begin with the default; a test binary run
// directly inherits what it is given, and a harness may give it them
// ignored (a script's background job ignores SIGINT): this binary then
// catches them, and drops them, as it ignored them, and the programs it
// starts begin with them at their default, as from a terminal (Go gives
// every child it forks the default for the signals it handles).
// (internal/exit's tests, which cannot import this package, do the same.)
func init() {
	for _, s := range []os.Signal{unix.SIGINT, unix.SIGHUP} {
		if signal.Ignored(s) {
			signal.Notify(make(chan os.Signal, 1), s)
		}
	}
}
