// Package flock waits for an advisory lock (flock(2)) that another workshop
// holds, and stays interruptible while it waits.
//
// A blocking flock(2) restarts after each signal (Go installs its handlers
// with SA_RESTART): a command that catches SIGINT from its start, as the
// steps and `workshop full run` do, would leave the student with a Ctrl-C
// that does nothing while another workshop holds the lock. So the lock is
// tried without blocking, and while another holds it, tried again every
// Tick, until it is free or a stop signal comes (any channel the caller
// registered gets its copy of the signal too).
package flock

import (
	"errors"
	"os"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Tick is how often a waiting command tries the lock again.
const Tick = 20 * time.Millisecond

// Try calls flock(fd, how|LOCK_NB) once (again after EINTR): EWOULDBLOCK
// means another holds the lock.
func Try(fd, how int) error {
	for {
		err := unix.Flock(fd, how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Wait tries the lock every Tick until it is taken, and returns how many
// tries that took. A stop signal (exit.StopSignals) ends the wait with an
// error of status 128+n whose sentence says it was interrupted while
// waiting for what, and that whatNot happened ("nothing was made").
// announce, when not nil, is called once the stop signals are caught for
// the wait, to say that it waits: a signal sent as soon as that is read
// ends the wait.
func Wait(fd, how int, what, whatNot string, announce func()) (tries int, err error) {
	sigs := make(chan os.Signal, 1)
	exit.Notify(sigs, exit.StopSignals...)
	defer exit.Stop(sigs)
	if announce != nil {
		announce()
	}
	tick := time.NewTicker(Tick)
	defer tick.Stop()
	for {
		select {
		case s := <-sigs:
			sig := s.(unix.Signal)
			return tries, exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s while waiting for %s; %s", sys.SignalName(sig), what, whatNot)
		case <-tick.C:
			tries++
			if err := Try(fd, how); !errors.Is(err, unix.EWOULDBLOCK) {
				return tries, err
			}
		}
	}
}
