package sys

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction as rt_sigaction(2) takes
// it on 64-bit Linux (amd64, arm64): handler, flags, restorer, mask.
type kernelSigaction struct {
	handler  uintptr
	flags    uintptr
	restorer uintptr
	mask     uint64
}

// sigDfl and sigIgn are SIG_DFL and SIG_IGN: the handlers 0 and 1.
const (
	sigDfl = 0
	sigIgn = 1
)

// handlerName names a disposition: where strace prints the address of a
// handler, which moves with every build, the narration says whose it is.
func handlerName(h uintptr) string {
	switch h {
	case sigDfl:
		return "SIG_DFL"
	case sigIgn:
		return "SIG_IGN"
	}
	return "<the Go runtime's handler>"
}

// SavedAction is a signal's disposition before DefaultSignals or
// IgnoreSignals changed it, which RestoreSignals puts back.
type SavedAction struct {
	Sig unix.Signal
	to  uintptr // the disposition set: SIG_DFL or SIG_IGN
	old kernelSigaction
	err error
}

// rtSigaction calls rt_sigaction(2) itself. os/signal cannot do what
// DefaultSignals does: it has no way to give a signal back to the kernel's
// default while the Go runtime keeps its handlers for the rest.
func rtSigaction(sig unix.Signal, act, old *kernelSigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// DefaultSignals sets each of sigs to SIG_DFL in the kernel, behind the Go
// runtime's back, and keeps what was there. It narrates nothing: it is
// called before the narration's options are known; ReportSet prints
// the calls once they are.
func DefaultSignals(sigs ...unix.Signal) []SavedAction { return setSignals(sigDfl, sigs) }

// IgnoreSignals sets each of sigs to SIG_IGN in the kernel, and keeps what
// was there, narrating nothing (ReportSet prints the calls). Not
// signal.Ignore: the Go runtime's signal.Reset leaves a signal it never
// handled (SIGTTOU) ignored, for good, and for every program started
// after it.
func IgnoreSignals(sigs ...unix.Signal) []SavedAction { return setSignals(sigIgn, sigs) }

func setSignals(to uintptr, sigs []unix.Signal) []SavedAction {
	saved := make([]SavedAction, len(sigs))
	for i, sig := range sigs {
		saved[i].Sig, saved[i].to = sig, to
		saved[i].err = rtSigaction(sig, &kernelSigaction{handler: to}, &saved[i].old)
	}
	return saved
}

// ReportSet prints the rt_sigaction calls DefaultSignals or IgnoreSignals
// made, and returns the first failure.
func (n *Narrator) ReportSet(saved []SavedAction) error {
	var first error
	for _, s := range saved {
		old := fmt.Sprintf("{sa_handler=%s, …}", handlerName(s.old.handler))
		if s.err != nil {
			old = "…" // the kernel filled nothing in
		}
		n.record("rt_sigaction", fmt.Sprintf("%s, {sa_handler=%s, sa_mask=[], sa_flags=0}, %s, 8", SignalName(s.Sig), handlerName(s.to), old), 0, s.err)
		if s.err != nil && first == nil {
			first = fmt.Errorf("rt_sigaction(%s): %w", SignalName(s.Sig), s.err)
		}
	}
	return first
}

// RestoreSignals puts back what DefaultSignals or IgnoreSignals set aside:
// the Go runtime's handlers, so that os/signal works again for those
// signals, or the default.
func (n *Narrator) RestoreSignals(saved []SavedAction) error {
	for _, s := range saved {
		if s.err != nil {
			continue // nothing was changed
		}
		old := s.old
		err := rtSigaction(s.Sig, &old, nil)
		n.record("rt_sigaction", fmt.Sprintf("%s, {sa_handler=%s, …}, NULL, 8", SignalName(s.Sig), handlerName(s.old.handler)), 0, err)
		if err != nil {
			return fmt.Errorf("rt_sigaction(%s): %w", SignalName(s.Sig), err)
		}
	}
	return nil
}
