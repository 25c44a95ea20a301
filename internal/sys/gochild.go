package sys

import (
	"os"
	"sync/atomic"
)

// PidfdProbe names, in BeforeFirstChild's note, the check Go's os package
// makes; internal/stracecheck finds the note by it.
const PidfdProbe = "Go's os package checks once that pidfds work"

// childStarted is set once this process has started a child through Go's
// os package (os/exec, os.StartProcess).
var childStarted atomic.Bool

// BeforeFirstChild tells of the calls Go's os package makes before the
// first child a process starts, and only then: it checks once that pidfds
// work (os.StartProcess then hands out a pidfd of each child, and waits and
// signals through it). Its probe clones a child of its own, which exits at
// once: without this note, that clone, and the pid it takes (one of those a
// command started by --init's init does not get, with the init's threads),
// would be hidden. Call it just before each start; it speaks once per
// process.
func (n *Narrator) BeforeFirstChild() {
	if childStarted.Swap(true) {
		return
	}
	n.Note("before the first child a process starts, "+PidfdProbe+", with these calls (up to the first that fails, on a kernel without them): "+
		"pidfd_open(%d, 0), waitid(P_PIDFD, …, WEXITED) = -1 ECHILD (a process is not its own child), pidfd_send_signal(…, 0, NULL, 0), "+
		"clone(flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK) of a child that exits at once, waitid(P_PIDFD, …, WEXITED|__WCLONE), and two close",
		os.Getpid())
}
