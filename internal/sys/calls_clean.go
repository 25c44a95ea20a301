package sys

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The calls of `workshop clean` beyond those of the steps: it takes the
// image store's lock before it removes what an addition killed halfway left.

var flockOps = []flagName{
	{unix.LOCK_SH, "LOCK_SH"},
	{unix.LOCK_EX, "LOCK_EX"},
	{unix.LOCK_NB, "LOCK_NB"},
	{unix.LOCK_UN, "LOCK_UN"},
}

// Flock calls flock(fd, how): an advisory lock on a whole file, which every
// workshop command that changes the image store takes too.
func (n *Narrator) Flock(fd int, how int) error {
	err := unix.Flock(fd, how)
	n.record("flock", fmt.Sprintf("%d, %s", fd, flagString(uintptr(how), flockOps)), 0, err)
	if err != nil {
		return fmt.Errorf("flock: %w", err)
	}
	return nil
}

func init() {
	if _, ok := glosses["flock"]; !ok {
		glosses["flock"] = "lock the whole file against other processes that lock it too (LOCK_NB: fail at once instead of waiting)"
	}
}
