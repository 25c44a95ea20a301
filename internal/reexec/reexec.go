// Package reexec starts a copy of this binary as a child that runs a
// registered init function instead of the command line: Go cannot fork
// without exec, so every process that must make syscalls of its own before
// running the student's command (chroot, sethostname, mount…) is the
// workshop binary re-executed from /proc/self/exe with a hidden command.
//
// The parent and child talk over two pipes:
//
//	fd 3  parent -> child: the init's spec as JSON. The child reads to EOF, so
//	      the parent's close is also the "go" signal, sent once the child's
//	      cgroup and uid maps are in place.
//	fd 4  child -> parent: close-on-exec; carries the final execve so that the
//	      parent can report it once it has happened (sys.ExecReporter).
package reexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Arg is the hidden command: workshop __init NAME.
const Arg = "__init"

const (
	specFD   = 3
	statusFD = 4
)

var inits = map[string]func() int{}

// Register makes fn the init named name. Call it from an init() function.
func Register(name string, fn func() int) {
	if _, dup := inits[name]; dup {
		panic("reexec: init registered twice: " + name)
	}
	inits[name] = fn
}

// Main runs the registered init and exits if this process is a re-executed
// child; otherwise it returns at once. main() calls it first.
func Main() {
	if len(os.Args) < 3 || os.Args[1] != Arg {
		return
	}
	fn, ok := inits[os.Args[2]]
	if !ok {
		fmt.Fprintf(os.Stderr, "workshop: unknown init %q\n", os.Args[2])
		os.Exit(exit.ToolFailed)
	}
	os.Exit(fn())
}

// Child is a re-executed child being set up by its parent.
type Child struct {
	Cmd    *exec.Cmd
	name   string
	spec   *os.File // parent's write end of fd 3
	status *os.File // parent's read end of fd 4
	ends   []*os.File
}

// Command prepares "/proc/self/exe __init name". The caller sets
// Cmd.SysProcAttr, Stdin, Stdout and Stderr before Start.
func Command(name string) (*Child, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"workshop", Arg, name},
		ExtraFiles: []*os.File{specR, statusW},
		Env:        os.Environ(),
	}
	return &Child{Cmd: cmd, name: name, spec: specW, status: statusR, ends: []*os.File{specR, statusW}}, nil
}

// Start starts the child, reports the clone and execve the Go runtime made
// for us, and sends the spec. The child waits until Release.
func (c *Child) Start(n *sys.Narrator, spec any) error {
	err := c.Cmd.Start()
	for _, f := range c.ends {
		f.Close()
	}
	name, args := cloneCall(c.Cmd.SysProcAttr)
	if err != nil {
		n.Reported(name, args, -1, errnoOf(err))
		c.spec.Close()
		c.status.Close()
		return fmt.Errorf("start the child process: %w", err)
	}
	pid := c.Cmd.Process.Pid
	n.Reported(name, args, pid, nil)
	n.WithPid(pid).Reported("execve", fmt.Sprintf("%q, [%q, %q, %q], …", c.Cmd.Path, c.Cmd.Args[0], c.Cmd.Args[1], c.Cmd.Args[2]), 0, nil)
	if err := json.NewEncoder(c.spec).Encode(spec); err != nil {
		return fmt.Errorf("send the spec to the child: %w", err)
	}
	return nil
}

// Pid is the child's pid as the host sees it.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Release lets the child go on past its setup.
func (c *Child) Release() error { return c.spec.Close() }

// AwaitExec waits until the child has exec'd the command (or exited) and
// reports the execve; see sys.ExecReporter.
func (c *Child) AwaitExec(n *sys.Narrator) bool {
	defer c.status.Close()
	return n.AwaitExec(c.status)
}

// Wait waits for the child and returns its exit status in the shell's
// convention: its code, or 128+n when killed by signal n.
func (c *Child) Wait() (int, error) {
	c.spec.Close() // in case Release was never called
	err := c.Cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return exit.ToolFailed, err
	}
	return StatusOf(c.Cmd.ProcessState), nil
}

// StatusOf turns a process state into the shell's exit status.
func StatusOf(ps *os.ProcessState) int {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return exit.SignalBase + int(ws.Signal())
	}
	return ps.ExitCode()
}

// ReadSpec is called by the child: it reads its spec from fd 3, returning
// only when the parent releases it.
func ReadSpec(v any) error {
	f := os.NewFile(specFD, "spec")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	return json.Unmarshal(data, v)
}

// ExecReporter is the child's end of the status pipe, close-on-exec.
func ExecReporter() *sys.ExecReporter {
	unix.CloseOnExec(statusFD)
	return sys.NewExecReporter(os.NewFile(statusFD, "status"))
}

// RuntimeCloneFlags are the flags Go's runtime passes to clone when it starts
// a child with these attributes (forkAndExecInChild1 in
// syscall/exec_linux.go): the namespace flags asked for, CLONE_VM|CLONE_VFORK
// unless a user namespace is made, CLONE_PIDFD when the kernel has pidfds,
// and SIGCHLD as the exit signal. attr may be nil.
func RuntimeCloneFlags(attr *syscall.SysProcAttr) uintptr {
	var flags uintptr
	if attr != nil {
		flags = attr.Cloneflags
	}
	if flags&unix.CLONE_NEWUSER == 0 {
		flags |= unix.CLONE_VFORK | unix.CLONE_VM
	}
	if pidfdWorks() {
		flags |= unix.CLONE_PIDFD
	}
	return flags | uintptr(unix.SIGCHLD)
}

// pidfdWorks mirrors os's check: Go's runtime adds CLONE_PIDFD to clone when
// the kernel supports pidfds, and we must report the flags really passed.
var pidfdWorks = sync.OnceValue(func() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// cloneCall renders the clone the Go runtime made: clone3 when a cgroup fd
// is used (CLONE_INTO_CGROUP) or a time namespace is made, clone otherwise.
func cloneCall(attr *syscall.SysProcAttr) (name, args string) {
	flags := RuntimeCloneFlags(attr) &^ 0xff
	useCgroupFD := attr != nil && attr.UseCgroupFD
	if useCgroupFD || flags&unix.CLONE_NEWTIME != 0 {
		if useCgroupFD {
			flags |= unix.CLONE_INTO_CGROUP
			return "clone3", fmt.Sprintf("{flags=%s, exit_signal=SIGCHLD, cgroup=%d}, 88", sys.CloneFlagString(flags), attr.CgroupFD)
		}
		return "clone3", fmt.Sprintf("{flags=%s, exit_signal=SIGCHLD}, 88", sys.CloneFlagString(flags))
	}
	return "clone", "flags=" + sys.CloneFlagString(flags|uintptr(unix.SIGCHLD))
}

func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.Errno(errno)
	}
	return err
}
