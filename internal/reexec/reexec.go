// Package reexec starts a copy of this binary as a child that runs a
// registered init function instead of the command line: Go cannot fork
// without exec, so every process that must make syscalls of its own before
// running the student's command (chroot, sethostname, mount…) is the
// workshop binary re-executed from /proc/self/exe with a hidden command.
//
// The parent and child talk over two pipes:
//
//	fd 3  parent -> child: the init's spec on one line (gob, in base64: every
//	      string byte for byte, where JSON would replace what is not UTF-8,
//	      a path or an argument of a student's, with U+FFFD), then, once the
//	      child's cgroup and uid maps are in place, the line "go", then EOF.
//	      A child that reaches EOF without "go" was abandoned (workshop died
//	      or gave up before releasing it): it exits without running anything,
//	      so no command ever runs outside its limits with nobody watching.
//	fd 4  child -> parent: close-on-exec; carries the final execve so that the
//	      parent can report it once it has happened (sys.ExecReporter).
package reexec

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/rtsig"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// RuntimeEnv is what Command adds to the child's environment for the Go
// runtime alone (see Command); a child that hands its own environment on
// to a command must leave it out. GODEBUG: no GOMAXPROCS from the cgroup's
// CPU limit, kept up to date, so that the runtime holds no cgroup file of
// the host open (cpu.cfs_quota_us, cpu.max; it reads them once at start,
// and closes them): the container's init would keep it inside the
// container.
var RuntimeEnv = []string{"GOMAXPROCS=1", "GODEBUG=containermaxprocs=0,updatemaxprocs=0"}

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
	// Its parent ignores signals 32 and 34 (rtsig), and so, inherited,
	// would the program this child runs: put back first.
	rtsig.Default()
	fn, ok := inits[os.Args[2]]
	if !ok {
		fmt.Fprintf(os.Stderr, "workshop: unknown init %q\n", os.Args[2])
		os.Exit(exit.ToolFailed)
	}
	os.Exit(fn())
}

// Args are, in a re-executed child, the arguments its parent gave Command
// after the init's name.
func Args() []string {
	if len(os.Args) < 3 {
		return nil
	}
	return os.Args[3:]
}

// narrationArg, after a child's own arguments, says that its narration
// goes to fd 5 (Child.NarrateTo), not to its stderr.
const narrationArg = "narration-on-fd-5"

// NarrateTo has the child narrate to f, its fd 5, rather than to its
// stderr: the command's stderr may be a pipe workshop copies to the
// terminal, and the child's lines must reach it in the order of the
// parent's own, which go to f directly. Call it before Start.
func (c *Child) NarrateTo(f *os.File) {
	c.Cmd.ExtraFiles = append(c.Cmd.ExtraFiles, f) // fd 5, after the spec's and the status's
	c.Cmd.Args = append(c.Cmd.Args, narrationArg)
}

// Child is a re-executed child being set up by its parent.
type Child struct {
	Cmd *exec.Cmd
	// Started, if set, runs as soon as the clone returns, before anything
	// is printed: a child handed the terminal (SysProcAttr.Foreground)
	// has it by then, and the caller may need to act before its first
	// write to a terminal that is no longer its foreground's. What it
	// returns, if not nil, runs once the clone and the child's execve are
	// narrated: it narrates what Started did, in the order it was done.
	Started func() (report func())
	name    string
	spec    *os.File // parent's write end of fd 3
	status  *os.File // parent's read end of fd 4
	ends    []*os.File

	mu       sync.Mutex // guards released, statusDone and handedOver
	released bool       // "go" was sent, or the pipe was closed without it
	// statusDone: the status pipe is AwaitExec's, or closed by Wait where
	// AwaitExec never ran (a child abandoned or killed before it).
	statusDone bool
	// handedOver: AwaitExec read that the child went on without an execve.
	handedOver bool

	// stoppedBy is the stop signal for which workshop killed the child
	// before its command ran (StopBeforeExec), or 0.
	stoppedBy atomic.Int32
}

// Command prepares "/proc/self/exe __init name args…"; the child reads args
// with Args. The caller sets Cmd.SysProcAttr, Stdin, Stdout and Stderr
// before Start.
func Command(name string, args ...string) (*Child, error) {
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
		Args:       append([]string{"workshop", Arg, name}, args...),
		ExtraFiles: []*os.File{specR, statusW},
		// One P: the child runs a few syscalls on one locked thread and then
		// execs, and a runtime sized for every CPU starts slower (more per-P
		// state, more threads woken at start): 0.15ms of each run, half its
		// CPU time (runc's init does runtime.GOMAXPROCS(1) too, but only after
		// the runtime has started). The command's own environment is the
		// spec's, never this one.
		Env: append(os.Environ(), RuntimeEnv...),
	}
	return &Child{Cmd: cmd, name: name, spec: specW, status: statusR, ends: []*os.File{specR, statusW}}, nil
}

// Start starts the child, reports the clone and execve the Go runtime made
// for us, and sends the spec. The child waits until Release.
func (c *Child) Start(n *sys.Narrator, spec any) error {
	line, err := encodeSpec(spec)
	if err != nil {
		c.spec.Close()
		c.status.Close()
		for _, f := range c.ends {
			f.Close()
		}
		return fmt.Errorf("encode the child's spec: %w", err)
	}
	n.BeforeFirstChild()
	err = c.Cmd.Start()
	for _, f := range c.ends {
		f.Close()
	}
	if err != nil {
		name, _ := cloneCall(c.Cmd.SysProcAttr, false)
		// Start's error is the clone's, or that of a step the runtime took
		// in the child before its execve (the SysProcAttr ones): which one
		// is not known, so no clone line claims it.
		n.Note("the Go runtime could not start the child: %v (the %s itself, or a step of the child before its execve)", errnoOf(err), name)
		c.spec.Close()
		c.status.Close()
		return &StartError{Err: errnoOf(err)}
	}
	pid := c.Cmd.Process.Pid
	var report func()
	if c.Started != nil {
		report = c.Started()
	}
	ReportStarted(n, c.Cmd)
	if report != nil {
		report()
	}
	if _, err := io.WriteString(c.spec, line); err != nil {
		// The child died at birth (an OOM kill on a tiny --memory, say):
		// collect it rather than leave it to the caller.
		sig, killed := c.killedBy()
		c.abandon()
		n.Kill(pid, unix.SIGKILL)
		c.Wait() // collects it, and closes its status pipe
		if killed {
			return killedBeforeCommand(sig)
		}
		return fmt.Errorf("send the spec to the child, through its pipe: %w", errnoOf(err))
	}
	return nil
}

// killedBy says whether the child has ended, killed by a signal, and which:
// waitid with WNOWAIT, which leaves it to be collected. Called when its
// end of the pipe is closed (EPIPE): it is ending, and a process closes its
// files a moment before it is a zombie waitid sees, so that moment is
// given (a tenth of a second at most: a child that closed its end alive
// is not waited for).
func (c *Child) killedBy() (unix.Signal, bool) {
	for tries := 0; ; tries++ {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, c.Pid(), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
			return 0, false
		}
		pid, code, status := sys.ChildInfo(&info)
		switch {
		case pid == 0 && tries < 100:
			time.Sleep(time.Millisecond) // not a zombie yet
		case pid != c.Pid() || code != sys.CLDKilled && code != sys.CLDDumped:
			return 0, false
		default:
			return unix.Signal(status), true
		}
	}
}

// killedBeforeCommand is the error of a child that a signal killed before
// it ran its command: 128+n, as for a command killed by signal n.
func killedBeforeCommand(sig unix.Signal) error {
	return exit.Errorf(exit.SignalBase+int(sig), "the container's first process was killed by %s before its command ran (sent from outside, or the OOM killer's); nothing of it is left", sys.SignalName(sig))
}

// StartError is Start's error when the Go runtime could not start the
// child: its clone failed, or a step of the child before its execve. The
// errors that come after (the spec not sent, a cgroup not joined) are
// others: only this one may be the kernel refusing a namespace.
type StartError struct{ Err error }

func (e *StartError) Error() string {
	if errors.Is(e.Err, unix.EAGAIN) {
		return fmt.Sprintf("start the child process: %v (the kernel would make no more processes: a limit is reached, 'ulimit -u' or the pids.max of the cgroup workshop runs in)", e.Err)
	}
	return fmt.Sprintf("start the child process: %v", e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Pid is the child's pid as the host sees it.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// goAhead is the line that releases the child.
const goAhead = "go"

// Release lets the child go on past its setup. Releasing twice is a no-op.
func (c *Child) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return nil
	}
	c.released = true
	_, err := io.WriteString(c.spec, goAhead+"\n")
	if cerr := c.spec.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if sig, killed := c.killedBy(); killed {
			return killedBeforeCommand(sig)
		}
		return fmt.Errorf("write the go-ahead into the child's pipe: %w", errnoOf(err))
	}
	return nil
}

// abandon closes the pipe without the go-ahead: the child exits without
// running anything. A no-op once released.
func (c *Child) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.released {
		c.released = true
		c.spec.Close()
	}
}

// AwaitExec waits until the child has exec'd the command (or exited) and
// reports the execve; see sys.ExecReporter.
func (c *Child) AwaitExec(n *sys.Narrator) bool {
	c.mu.Lock()
	done := c.statusDone
	c.statusDone = true
	c.mu.Unlock()
	if done {
		return false // waited for already: it ended
	}
	defer c.status.Close()
	execed, handedOver := n.AwaitSetup(c.status, c.Pid())
	c.mu.Lock()
	c.handedOver = handedOver
	c.mu.Unlock()
	return execed
}

// HandedOver reports, once AwaitExec has returned, whether the child went
// on past its setup without an execve (an init that runs the command as its
// own child: sys.ExecReporter.Done).
func (c *Child) HandedOver() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handedOver
}

// PastSetup reports, without waiting, whether the child is past its setup:
// it has exec'd its command, handed over (ExecReporter.Done) or exited. The
// kernel knows it exactly: the child's end of the status pipe is then
// closed, and the parent's end reports a hang-up. (Reading the pipe, as
// AwaitExec does, learns it a scheduling delay later.)
func (c *Child) PastSetup() bool {
	conn, err := c.status.SyscallConn()
	if err != nil {
		return true // AwaitExec is done with the pipe: the child is past it
	}
	hup := false
	cerr := conn.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			// EINTR is likely: Go's runtime preempts its threads with SIGURG.
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			hup = err == nil && n > 0 && fds[0].Revents&unix.POLLHUP != 0
			return
		}
	})
	if cerr != nil {
		return true // closed: AwaitExec has read the pipe to its end
	}
	return hup
}

// Wait waits for the child and returns its exit status in the shell's
// convention: its code, or 128+n when killed by signal n.
func (c *Child) Wait() (int, error) {
	c.abandon() // never released: the child must not run its command
	err := c.Cmd.Wait()
	c.mu.Lock()
	if !c.statusDone { // AwaitExec never ran: its pipe is closed here
		c.statusDone = true
		c.status.Close()
	}
	c.mu.Unlock()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return exit.ToolFailed, err
	}
	return StatusOf(c.Cmd.ProcessState), nil
}

// Signaled reports whether the child, once waited for, was ended by a
// signal (its status is then 128+n), as opposed to exiting with a code.
func (c *Child) Signaled() bool {
	if c.Cmd.ProcessState == nil {
		return false
	}
	ws, ok := c.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// StatusOf turns a process state into the shell's exit status.
func StatusOf(ps *os.ProcessState) int {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return exit.SignalBase + int(ws.Signal())
	}
	return ps.ExitCode()
}

// ErrAbandoned is ReadSpec's error when the parent closed the pipe without
// releasing the child: workshop died, or gave up on the container.
var ErrAbandoned = errors.New("workshop ended before it let the container start")

// ReadSpec is called by the child: it reads its spec from fd 3, returning
// only when the parent releases it, or ErrAbandoned when it never will.
func ReadSpec(v any) error {
	f := os.NewFile(specFD, "spec")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	spec, rest, _ := strings.Cut(string(data), "\n")
	if rest != goAhead+"\n" {
		return ErrAbandoned
	}
	raw, err := base64.StdEncoding.DecodeString(spec)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	return gob.NewDecoder(bytes.NewReader(raw)).Decode(v)
}

// encodeSpec is the spec's line on fd 3: gob, which keeps every byte of a
// string, in base64, which holds no newline.
func encodeSpec(spec any) (string, error) {
	var raw bytes.Buffer
	if err := gob.NewEncoder(&raw).Encode(spec); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(raw.Bytes()) + "\n", nil
}

// ParentGone is called by the child: it reports whether workshop has died,
// whose end of the status pipe (fd 4) is then closed. A child checks it
// once its parent-death signal is set: a parent that died before that
// never sends it.
func ParentGone(n *sys.Narrator) (bool, error) { return n.ReadersGone(statusFD) }

// ExecReporter is the child's end of the status pipe, close-on-exec.
func ExecReporter() *sys.ExecReporter {
	unix.CloseOnExec(statusFD)
	return sys.NewExecReporter(os.NewFile(statusFD, "status"))
}

// RuntimeCloneFlags are the flags Go's runtime passed to clone to start a
// child with these attributes (forkAndExecInChild1 in
// syscall/exec_linux.go): the namespace flags asked for, CLONE_VM|CLONE_VFORK
// unless a user namespace is made, CLONE_PIDFD when it asked for a pidfd of
// the child (HoldsPidfd tells), and SIGCHLD as the exit signal. attr may be
// nil.
func RuntimeCloneFlags(attr *syscall.SysProcAttr, pidfd bool) uintptr {
	var flags uintptr
	if attr != nil {
		flags = attr.Cloneflags
	}
	if flags&unix.CLONE_NEWUSER == 0 {
		flags |= unix.CLONE_VFORK | unix.CLONE_VM
	}
	if pidfd {
		flags |= unix.CLONE_PIDFD
	}
	return flags | uintptr(unix.SIGCHLD)
}

// HoldsPidfd reports whether this process holds a pidfd of its child pid,
// just started: Go's os package asks clone for one (CLONE_PIDFD) when its
// own check of pidfds passed (pidfd_open, waitid, pidfd_send_signal and a
// probe clone), and keeps it until the child is waited for. What the
// narration reports is what happened, not a guess at Go's check: a kernel
// with pidfd_open but not waitid(P_PIDFD) (5.3) fails Go's check. Its
// descriptors are read in /proc, which narrates nothing the step does.
// Where there is no /proc (an init chrooted without a mount namespace), it
// falls back to the first of Go's checks.
func HoldsPidfd(pid int) bool {
	// A pidfd's fdinfo gives the child's pids as seen from the PID
	// namespace of the /proc mounted here, down to its own (NSpid); this
	// process's own NSpid says how deep below that namespace pid, a pid of
	// this process's namespace, is read.
	depth := len(nsPids("/proc/self/status"))
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil || depth == 0 {
		return pidfdOpenWorks()
	}
	// Highest numbers first: the child's pidfd, opened last, is usually
	// among them (the kernel gives the lowest free number, which is not
	// always the highest); the order only saves looking.
	slices.SortFunc(fds, func(a, b os.DirEntry) int {
		x, _ := strconv.Atoi(a.Name())
		y, _ := strconv.Atoi(b.Name())
		return y - x
	})
	for _, fd := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + fd.Name()); err != nil || link != "anon_inode:[pidfd]" {
			continue
		}
		if ns := nsPids("/proc/self/fdinfo/" + fd.Name()); len(ns) >= depth && ns[depth-1] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// nsPids is the NSpid line of a /proc status or pidfd fdinfo file: a
// process's pid in each PID namespace, from that of /proc down to its own.
func nsPids(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// pidfdOpenWorks is the first of os's checks of pidfds: pidfd_open of this
// process.
var pidfdOpenWorks = sync.OnceValue(func() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// cloneGloss is what --explain says of the clone: the narrator's gloss
// ("" keeps it) when the clone makes namespaces, and that the child shares
// its parent's when it makes none (steps 1 and 2).
func cloneGloss(attr *syscall.SysProcAttr) string {
	const newNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET |
		unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	if RuntimeCloneFlags(attr, false)&newNamespaces != 0 {
		return ""
	}
	return "create a child process, in the same namespaces as its parent (no CLONE_NEW* flag)"
}

// ReportStarted says, as strace would, what Go's runtime did to start cmd
// (just started): its clone, the calls its child made before the execve,
// and the execve. Under --quiet there is no one to say it to, and nothing
// is read (/proc/self/fd, fdinfo) to say it.
func ReportStarted(n *sys.Narrator, cmd *exec.Cmd) {
	if n.Options().Quiet {
		return
	}
	pid := cmd.Process.Pid
	name, args := cloneCall(cmd.SysProcAttr, HoldsPidfd(pid))
	n.Because(cloneGloss(cmd.SysProcAttr)).Reported(name, args, pid, nil)
	if steps := RuntimeSteps(cmd.SysProcAttr); steps != "" {
		n.Note("in the child, before its execve, the Go runtime also made: %s", steps)
	}
	n.WithPid(pid).Reported("execve", fmt.Sprintf("%q, %s, …", cmd.Path, sys.Argv(cmd.Args)), 0, nil)
}

// cloneCall renders the clone the Go runtime made: clone3 when a cgroup fd
// is used (CLONE_INTO_CGROUP) or a time namespace is made, clone otherwise.
func cloneCall(attr *syscall.SysProcAttr, pidfd bool) (name, args string) {
	flags := RuntimeCloneFlags(attr, pidfd) &^ 0xff
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

// RuntimeSteps names the calls forkAndExecInChild makes in the child for
// these attributes, between the clone and the execve, in its order
// (syscall/exec_linux.go), so that the narration does not hide them.
func RuntimeSteps(attr *syscall.SysProcAttr) string {
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	var steps []string
	if len(attr.AmbientCaps) > 0 {
		steps = append(steps, "prctl(PR_SET_KEEPCAPS, 1)")
	}
	if attr.Setsid {
		steps = append(steps, "setsid()")
	}
	if attr.Setpgid {
		steps = append(steps, fmt.Sprintf("setpgid(0, %d)", attr.Pgid))
	}
	if attr.Foreground {
		if attr.Pgid == 0 {
			steps = append(steps, "getpid()")
		}
		steps = append(steps, fmt.Sprintf("ioctl(%d, TIOCSPGRP, …)", attr.Ctty))
	}
	// The handlers Go's parent had are no handlers in the child: each
	// signal it handles goes back to its default (one ignored, as nohup's
	// SIGHUP, stays ignored), then the signal mask is cleared.
	steps = append(steps, "rt_sigaction(…, SIG_DFL) for each signal it handles", "rt_sigprocmask(SIG_SETMASK, [])")
	if n := len(attr.AmbientCaps); n > 0 {
		steps = append(steps, "capget(…)", "capset(…)",
			fmt.Sprintf("%d × prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_…) (its capabilities, kept through the execve of /proc/self/exe)", n))
	}
	if attr.Pdeathsig != 0 {
		// getppid: if the parent died already, the signal never comes.
		steps = append(steps, fmt.Sprintf("prctl(PR_SET_PDEATHSIG, %s)", sys.SignalName(attr.Pdeathsig)), "getppid()")
	}
	steps = append(steps, "fcntl(F_SETFD) and dup3 of the descriptors it hands on")
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && goRaisedNofile(lim) {
		steps = append(steps, "prlimit64(0, RLIMIT_NOFILE, …) twice (the limit of open files put back where Go found it, for the new program)")
	}
	return strings.Join(steps, ", ")
}

// goRaisedNofile reports whether Go raised this process's soft limit of
// open files at its start (syscall/rlimit.go), which it does to one below
// the hard limit: its children then put the original back before execve.
func goRaisedNofile(lim unix.Rlimit) bool {
	return lim.Max > 0 && lim.Max != unix.RLIM_INFINITY && lim.Cur == lim.Max-1
}

func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.Errno(errno)
	}
	return err
}

// StopBeforeExec is what workshop does with a stop signal it gets while
// the child is still in its setup: it stops the child itself (SIGKILL),
// once, with a note (what names the child: "container", "child"). Passed
// on instead, a signal that lands just before the child's execve can be
// lost there (Go hands it to the child's channel a moment later), and the
// command would run after all. It reports whether the child was still in
// its setup: if not, the signal is the command's.
func (c *Child) StopBeforeExec(n *sys.Narrator, sig unix.Signal, what string) bool {
	if c.PastSetup() {
		return false
	}
	if c.stoppedBy.CompareAndSwap(0, int32(sig)) {
		n.Note("workshop got %s before the container's command ran: stopping the %s", sys.SignalName(sig), what)
		n.Kill(c.Pid(), unix.SIGKILL)
	}
	return true
}

// Interrupted is the error of a child that StopBeforeExec stopped, or nil:
// "never ran" when its execve did not happen (execed false; also for a
// child never released), "as it started" when the execve crossed the
// SIGKILL (status 137 by a signal). Give it AwaitExec's and Wait's results.
func (c *Child) Interrupted(execed bool, status int) error {
	sig := unix.Signal(c.stoppedBy.Load())
	switch {
	case sig == 0:
		return nil
	case !execed:
		return exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s before the container's command ran; it never ran", sys.SignalName(sig))
	case c.Signaled() && status == exit.SignalBase+int(unix.SIGKILL):
		return exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s as the container's command started: workshop stopped it with SIGKILL", sys.SignalName(sig))
	}
	return nil
}
