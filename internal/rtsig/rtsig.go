// Package rtsig keeps signals 32 and 34 from killing workshop where it
// stands. The Go runtime leaves them at their default action, which ends
// the process, and os/signal cannot catch them (glibc keeps 32 for its
// threads, musl 34; Go reserves both), so a `kill -34` (SIGRTMIN as kill(1)
// counts it) ended a run as `kill -9` does: its mount, cgroup and record
// left behind. Ignored, they do nothing, as SIGUSR1 and the other real-time
// signals do to a Go program that does not catch them. (Signal 33 is the
// runtime's own, caught: it makes setuid and its kin on every thread. Set
// to anything else, those calls wait for ever.)
//
// An ignored signal stays ignored across execve: every child workshop
// starts would pass that on to the program it runs. So a re-executed
// child (reexec.Main) puts them back first, before it does anything else,
// and a program started directly (a lab check's) is started with them put
// back (Unignored). This is workshop's own bookkeeping, as the Go
// runtime's signal set-up is: not narrated.
package rtsig

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reserved are the signals the Go runtime leaves deadly and uncatchable.
var Reserved = []unix.Signal{32, 34}

// sigaction is the kernel's struct sigaction (the same layout on amd64
// and arm64): the handler, flags, restorer and mask.
type sigaction struct {
	handler, flags, restorer uintptr
	mask                     uint64
}

const (
	sigDFL = 0
	sigIGN = 1
)

func set(handler uintptr) {
	act := sigaction{handler: handler}
	for _, s := range Reserved {
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(s), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
}

// Ignore makes the reserved signals do nothing to this process.
func Ignore() { set(sigIGN) }

// Default gives them back their default action.
func Default() { set(sigDFL) }

// Unignored runs start (one that starts a program) with the reserved
// signals at their default action, so that the program does not inherit
// them ignored, then ignores them again. Nothing else may start a process
// meanwhile.
func Unignored(start func() error) error {
	Default()
	defer Ignore()
	return start()
}
