package sys

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
// past its setup and goes on otherwise (an init that has started the
// command as its own child). The parent's AwaitExec returns false at once;
// the line written first tells AwaitSetup it was handed over, not killed.
func (r *ExecReporter) Done() {
	if r == nil || r.f == nil {
		return
	}
	fmt.Fprintln(r.f, "D")
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
// one happened. It reports whether the exec succeeded. pid is the child,
// not yet waited for: a child killed after it wrote the call and before
// the kernel ran it closes the pipe too, and only its name, which a
// successful execve changes, tells the two apart.
func (n *Narrator) AwaitExec(r *os.File, pid int) bool {
	execed, _ := n.AwaitSetup(r, pid)
	return execed
}

// AwaitSetup is AwaitExec, and reports too whether the child was handed
// over without an execve (ExecReporter.Done): past its setup either way. A
// child that is neither was killed, or gave up, while it set up.
func (n *Narrator) AwaitSetup(r *os.File, pid int) (execed, handedOver bool) {
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
		case line == "D":
			handedOver = true
		}
	}
	if pending == "" || !execedAs(pid, pending) {
		return false, handedOver
	}
	c := *n
	c.prefix = prefix
	c.gloss = ""
	c.line("execve", pending, "= 0")
	return true, handedOver
}

// execedAs reports whether process pid (alive, or a zombie not yet waited
// for) has made the execve the pending call names. Its name
// (/proc/PID/comm) tells: a child re-executed from /proc/self/exe is named
// "exe" until an execve names it after a program's file. Any other name
// means it did exec (the program, or what the program exec'd at once:
// sh -c 'exec x', env, nice); "exe" means it did not, unless the program
// is itself named exe. Where that cannot be told (no pid, no /proc), the
// call is taken to have happened.
func execedAs(pid int, pending string) bool {
	quoted, err := strconv.QuotedPrefix(pending)
	if err != nil || pid <= 0 {
		return true
	}
	path, _ := strconv.Unquote(quoted)
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return true
	}
	return strings.TrimSuffix(string(comm), "\n") != reexecName || filepath.Base(path) == reexecName
}

// reexecName is the name of a child re-executed from /proc/self/exe, as
// every child that reports its execve is, until that execve.
const reexecName = "exe"
