package sys

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// An execve that succeeds never returns, so the process that made it cannot
// print "= 0". ExecReporter solves this as Go's os/exec does: the child holds
// the write end of a close-on-exec pipe and writes the call it is about to
// make; the kernel closes the pipe when execve succeeds. The parent reads the
// pipe to its end: a pending call with no failure after it has happened.
type ExecReporter struct {
	f *os.File
}

// NewExecReporter wraps the child's end of the pipe. It must be close-on-exec.
func NewExecReporter(f *os.File) *ExecReporter { return &ExecReporter{f: f} }

func (r *ExecReporter) pending(prefix, args string) {
	if r == nil || r.f == nil {
		return
	}
	fmt.Fprintf(r.f, "P%s\t%s\n", prefix, args)
}

// Done closes the child's end without an execve to report: the child is
// past its setup and goes on otherwise (an init that runs the command as
// its own child). The parent's AwaitExec returns false at once.
func (r *ExecReporter) Done() {
	if r == nil || r.f == nil {
		return
	}
	r.f.Close()
	r.f = nil
}

func (r *ExecReporter) failed() {
	if r == nil || r.f == nil {
		return
	}
	fmt.Fprintln(r.f, "F")
}

// AwaitExec reads the parent's end of the pipe until the child's end closes
// (exec succeeded, or the child exited) and prints the successful execve, if
// one happened. It reports whether the exec succeeded.
func (n *Narrator) AwaitExec(r *os.File) bool {
	sc := bufio.NewScanner(r)
	var pending string
	var prefix string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "P"):
			prefix, pending, _ = strings.Cut(line[1:], "\t")
		case line == "F":
			pending = ""
		}
	}
	if pending == "" {
		return false
	}
	c := *n
	c.prefix = prefix
	c.gloss = ""
	c.line("execve", pending, "= 0")
	return true
}
