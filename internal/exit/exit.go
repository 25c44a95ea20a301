// Package exit carries the exit codes container users know from Docker
// through the layers of the tool, from the step that knows why it failed to
// cmd/workshop, which turns them into the process's exit status.
package exit

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The codes of DESIGN.md.
const (
	ToolFailed    = 125 // the tool itself failed: bad flag, missing root, unsupported kernel
	CannotInvoke  = 126 // the command exists but cannot be executed
	NotFound      = 127 // the command is not found in the root
	SignalBase    = 128 // 128+n: killed by signal n
	OOMKilled     = 137 // 128+SIGKILL, and the tool says it was the memory limit
	defaultStatus = ToolFailed
)

// Error is an error that knows the exit code it stands for.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Code wraps err with an exit code. Code(n, nil) is a silent exit with n:
// the container's own status passing through, which needs no sentence.
func Code(code int, err error) error { return &Error{Code: code, Err: err} }

// Errorf makes an error with an exit code and a sentence.
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Status returns the exit code err stands for: 0 for nil, the code it carries,
// or 125 (the tool failed) for any other error.
func Status(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return defaultStatus
}

// Silent reports whether err is only an exit status, with nothing to say.
func Silent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Err == nil
}

// TerminalSignals are the signals a terminal or kill(1) stops a process
// with: Ctrl-C (SIGINT), kill's default (SIGTERM), a closed terminal or a
// dropped ssh session (SIGHUP), Ctrl-\ (SIGQUIT).
var TerminalSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

// FaultSignals are the signals a program raises itself on a fault, which
// kill(1) can send too (`kill -ABRT`, `workshop kill --signal SEGV`). Go
// answers one that was sent with a dump of every goroutine's stack and exit
// 2. (Caught with os/signal, a SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP or
// SIGSYS the program's own fault raises is still Go's panic or crash: only
// the sent ones reach the channel.)
var FaultSignals = []os.Signal{unix.SIGABRT, unix.SIGTRAP, unix.SIGILL, unix.SIGSYS, unix.SIGSTKFLT, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV}

// StopSignals are TerminalSignals and FaultSignals: workshop catches all of
// them while it has something to undo, so that none kills it half-way and
// leaves a mount, a cgroup or a record behind; it stops with 128+n and a
// sentence.
var StopSignals = append(append([]os.Signal(nil), TerminalSignals...), FaultSignals...)
