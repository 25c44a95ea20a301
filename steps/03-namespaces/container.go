package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// initName is the hidden command the container's first process runs:
// workshop __init namespaces.
const initName = "namespaces"

// forwarded are the signals workshop passes on to the container while it
// waits for it: the ones a student sends with Ctrl-C or kill, and the two
// a program is told things with (uncaught, each would end workshop, and
// leave what it made behind).
var forwarded = append(slices.Clone(exit.StopSignals), unix.SIGUSR1, unix.SIGUSR2)

// Container is a started container: a child of workshop in its own
// namespaces, set up and running the command once released.
type Container struct {
	n     *sys.Narrator
	id    string
	child *reexec.Child

	// settings are the terminal's, as they were before the container got
	// it: put back with the terminal (takeTerminalBack).
	settings *unix.Termios
	// resumeCtrlZ: the command, on the terminal and not a PID 1, would
	// stay stopped after a Ctrl-Z with nothing to resume it (Wait).
	resumeCtrlZ bool
	// tty is the terminal handed to the container's process group, or -1;
	// workshop takes it back when the container ends.
	tty int
	// ttou is SIGTTOU's disposition before workshop ignored it, from the
	// clone to takeTerminalBack (see Start).
	ttou []sys.SavedAction
	// piped are the pipes its output goes to the terminal through, when
	// it was not handed the terminal (pipeOutputs).
	piped []*outputPipe
	// readers are the container's outputs that are pipes (… | head),
	// watched while its command is a PID 1, which SIGPIPE does not end
	// (watchReaders); readerNames say which ("standard output").
	// readerKilled: their reader went, the container went on, and
	// workshop ended it.
	readers      []int
	readerNames  []string
	readerKilled bool
	// setUp: the command's execve happened, or the init (--init) took
	// over (Wait sets it).
	setUp bool
	// hungUp: the terminal hung up while the container had it
	// (watchTerminal): there is nothing to take back. hangupKilled: the
	// container outlived it, and workshop killed it.
	hungUp, hangupKilled bool
	// stopGrace is Config.StopGrace: how long the container has after a
	// stop signal, 0 where no cgroup watch kills it. pidNS and init: whether
	// it has a PID namespace and an init, how a container the terminal
	// left is ended.
	stopGrace   time.Duration
	pidNS, init bool
	// mntNS is the container's mount namespace (its /proc/PID/ns/mnt
	// link) where no PID namespace and no cgroup ends what its command
	// leaves running: endStragglers finds those by it.
	mntNS string
	// stragglers is the marker of how to find what the command leaves,
	// for clean should workshop be killed (Config.StateDir); nil if none.
	stragglers *state.Stragglers

	stopForwarding chan struct{}
	forwardingDone chan struct{}

	mu     sync.Mutex // guards waited
	waited bool

	// endMu guards ended: the first process has ended (Wait saw it, a
	// zombie not yet collected). Each kill of its pid or group is made
	// under endMu (unlessEnded) and skipped once it has ended: nothing of
	// it is left to signal there, and once Wait collects it its pid may be
	// another process's. It guards too what forwardSignals keeps:
	// stopPassed, a stop signal went on to the container; passedSIGHUP,
	// when a SIGHUP last did (from a shell that passes the terminal's
	// hang-up on to its jobs, or sent by someone; zero for never).
	endMu        sync.Mutex
	ended        bool
	stopPassed   bool
	passedSIGHUP time.Time
	// stopped is what suspend stopped and has not continued yet (workshop
	// continued in the background, bg); guarded by endMu.
	stopped *stoppedContainer
	// lastFg is the container's process group last seen with the terminal
	// (watchTerminal), for takeTerminalBack.
	lastFg atomic.Int64
	// pgrpReads counts the ioctl(TIOCGPGRP) calls foregroundGroup made,
	// which Wait reports: one a tick, to know whose the terminal is.
	pgrpReads atomic.Int64
	// suspending: suspend is stopping the container and workshop, or
	// continuing them; watchTerminal leaves the stops and the terminal
	// to it meanwhile.
	suspending atomic.Bool
}

// Start makes the container's first process and leaves it waiting: the
// child is cloned with the namespaces' CLONE_NEW* flags, re-executes
// workshop as `workshop __init namespaces`, and its uid and gid maps are
// written by hand. Nothing of the command runs before Release: step 4 puts
// the child in its cgroup in between. The caller must Wait (or Kill and Wait).
func Start(n *sys.Narrator, cfg Config) (*Container, error) {
	flags, err := ParseNamespaces(cfg.Namespaces)
	if err != nil {
		return nil, err
	}
	if err := cfg.check(n, flags); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("the root %s: %w", cfg.Root, err)
	}
	id := cfg.ID
	if id == "" {
		id = ids.New()
	}
	hostname := cfg.Hostname
	if hostname == "" && flags&unix.CLONE_NEWUTS != 0 {
		hostname = id
	}
	env := cfg.Env
	if env == nil {
		shown := hostname
		if shown == "" {
			shown, _ = os.Hostname()
		}
		env = defaultEnv(shown)
	}
	if err := prepareRoot(n, root, flags, cfg.PivotRoot, cfg.Sys); err != nil {
		return nil, err
	}
	// The table of namespaces is narration: under --quiet nothing reads
	// the links it would show.
	var hostNS map[string]string
	if !n.Options().Quiet {
		if hostNS, err = readNamespaces("self"); err != nil {
			return nil, err
		}
	}

	// With the terminal (see below), a Ctrl-C goes to the child, not to
	// workshop: the child is told, to hold it.
	tty := -1
	var initArgs []string
	var settings *unix.Termios
	var ttou []sys.SavedAction // SIGTTOU's disposition, while workshop is in the background
	stdin := cfg.Stdin
	f, isFile := cfg.Stdin.(*os.File)
	onTerminal := isFile && term.IsTerminal(int(f.Fd()))
	switch {
	case onTerminal && NoTerminalFor(f, cfg.Stdout) != "":
		// The container, in a session of its own, cannot have the
		// terminal: workshop runs in the background (… &, timeout), or in
		// a pipeline (step 3 -- ps | less) whose other programs share its
		// process group, where handing it over would put less in the
		// background. What is typed there is the shell's, or less's: the
		// container's input is /dev/null instead (and its output a pipe,
		// see pipeOutput).
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		defer null.Close()
		stdin = null
		n.Note("the terminal is not the container's to have (workshop runs in the background, or its output goes to a pipe): the command's input is %s", os.DevNull)
	case onTerminal:
		tty = int(f.Fd())
		initArgs = append(initArgs, terminalArg)
		// Put back at the end: a command killed in the middle (an OOM
		// kill, --timeout, kill -9) leaves the terminal as it had set it
		// (no echo, raw), and workshop, which exits by itself, would leave
		// the student's shell with it.
		var err error
		if settings, err = n.Because("the terminal's settings, put back when the container ends however it ends").TerminalSettings(tty); err != nil {
			return nil, err
		}
	}
	child, err := reexec.Command(initName, initArgs...)
	if err != nil {
		return nil, fmt.Errorf("prepare the container's init: %w", err)
	}
	// The cgroup namespace is not made here but by the child, after Release:
	// a cgroup namespace is rooted at the cgroup its maker is in when it is
	// made, and step 4 may move the child into the container's cgroup only
	// after the clone (on a v1 host where its thread cannot step in and
	// back, see cgroups.Cgroup.BornIn). Made at clone time, that container
	// would see its cgroup as "/../workshop/<id>" instead of "/".
	caps := allCapabilities()
	attr := &syscall.SysProcAttr{
		Cloneflags: flags &^ unix.CLONE_NEWCGROUP,
		// Its own process group: a signal meant for workshop (a Ctrl-C in a
		// pipe, a kill of the process group) reaches the container only
		// through Wait's forwarding, exactly once.
		Setpgid: tty >= 0,
		// Not handed the terminal, a session of its own: a process group
		// of workshop's session that is not the terminal's foreground one
		// is in the background for job control, and an interactive shell
		// there (sh -i fed by a pipe, or with workshop run with &) sends
		// itself SIGTTIN until it is moved to the foreground, which it
		// never is: a PID 1 drops the signal, and the shell spun at full
		// speed for ever. Without a controlling terminal it runs without
		// job control instead (setsid also makes the process group). Its
		// output, if workshop's is a terminal, goes through a pipe
		// (pipeOutputs): outside job control, it could read the terminal.
		Setsid: tty < 0,
		// Not Pdeathsig: Go's child checks getppid() against the parent's pid
		// and kills itself when they differ, and in a new PID namespace
		// getppid() is 0. The child sets PR_SET_PDEATHSIG itself.
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		// The child execs /proc/self/exe at once, before its uid map exists:
		// a process that execs as an unmapped user loses the capabilities a
		// new user namespace gives it. Ambient capabilities survive execve,
		// so the child can still mount and chroot; it clears them before it
		// runs the command.
		attr.AmbientCaps = caps
	}
	if tty >= 0 {
		// Hand the terminal to the container's process group, as docker run
		// -it does with its pty: Ctrl-C then goes to the command, and an
		// interactive shell can do job control.
		attr.Foreground = true
		attr.Ctty = tty
		if exit.IgnoredAtStart(unix.SIGINT) {
			// Left ignored (exit.Heeded), as a shell leaves it for a
			// script's background job: the student's Ctrl-C did nothing,
			// in silence.
			n.Note("workshop was started with SIGINT ignored (a script's background job, or trap '' INT), so the command starts with it ignored too: a Ctrl-C on this terminal does nothing to it, as under trap '' INT; unshare … chroot …. It ends when it exits, or by a signal sent from another terminal")
		}
		// From the clone on, workshop is in the background of the
		// terminal it narrates on: with the terminal's tostop set (stty
		// tostop), its first line would stop it with SIGTTOU, the
		// container left with a terminal nobody gives back after fg.
		// Ignored, the writes go through, until takeTerminalBack puts it
		// back. (Not before the clone: an ignored signal stays ignored in
		// the child, and in the command.)
		child.Started = func() func() {
			ttou = sys.IgnoreSignals(unix.SIGTTOU)
			return func() {
				n.Because("workshop is in the background of its terminal now: taking the terminal back (TIOCSPGRP) and putting its settings back (TCSETSW) from there would stop it with SIGTTOU, and so would its own lines with stty tostop").ReportSet(ttou)
			}
		}
	}
	if cfg.CgroupDir != "" {
		fd, err := n.Because("a handle on the cgroup the child is to be born in (CLONE_INTO_CGROUP)").
			Openat(cfg.CgroupDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open the container's cgroup: %w", err)
		}
		defer n.CloseFd(fd)
		attr.UseCgroupFD = true
		attr.CgroupFD = fd
	}
	child.Cmd.SysProcAttr = attr
	child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = stdin, cfg.Stdout, cfg.Stderr
	var piped []*outputPipe
	// Not for a plain chroot (step 5's walkthrough demo, as step 2 runs
	// its command): with no namespace at all, the command is the host's
	// root, which a pipe protects nothing from.
	if tty < 0 && flags != 0 {
		if piped, err = pipeOutputs(n, &child.Cmd.Stdout, &child.Cmd.Stderr); err != nil {
			return nil, err
		}
		// The container's narration goes straight to the terminal, as
		// workshop's own: through the pipe, it could come after lines
		// workshop printed later.
		if f, ok := cfg.Stderr.(*os.File); ok && child.Cmd.Stderr != cfg.Stderr {
			child.NarrateTo(f)
		}
	}

	s := spec{
		Narration:    n.Options(),
		ID:           id,
		Hostname:     hostname,
		Root:         root,
		Args:         cfg.Args,
		Env:          env,
		Flags:        flags,
		PivotRoot:    cfg.PivotRoot,
		Sys:          cfg.Sys,
		CgroupViews:  cfg.CgroupViews,
		Init:         cfg.Init,
		Terminal:     tty >= 0,
		KeepCaps:     keepCaps(cfg, flags),
		LastCap:      len(caps) - 1,
		HostNS:       hostNS,
		HostPid:      os.Getpid(),
		HintStateDir: hint.StateDir(),
	}
	// Signals are caught from the clone on: one that comes before the
	// command runs stops the container (see forwardSignals), instead of
	// killing workshop between making the child and releasing it.
	sigs := make(chan os.Signal, 8)
	// SIGTSTP too, not passed on: suspend stops the container, then
	// workshop.
	exit.Notify(sigs, append(slices.Clone(forwarded), unix.SIGTSTP)...)
	// undo is what a failure from here on undoes before it is said.
	undo := func() {
		exit.Stop(sigs)
		for _, p := range piped {
			p.abandon(n)
		}
		if ttou != nil {
			// Cloned, handed the terminal, and given up: the terminal
			// comes back.
			(&Container{n: n, tty: tty, ttou: ttou}).takeTerminalBack()
		}
	}
	if cfg.Init {
		// The init never execs: a descriptor workshop inherited (exec
		// 7</etc in the student's shell), which its child inherits in turn,
		// stays open in it, close-on-exec or not, and the command could
		// open it through /proc/1/fd. Close-on-exec here, it never reaches
		// the init. (Go opens its own descriptors so already.)
		if err := n.Because("descriptors this process inherited must not reach the init, which never execs").CloseOnExecFrom(3); err != nil {
			undo()
			return nil, err
		}
	}
	clone := func() error { return child.Start(n, s) }
	if cfg.BornIn != nil {
		err = cfg.BornIn(clone)
	} else {
		err = clone()
	}
	for _, p := range piped {
		p.started(n)
	}
	if err != nil {
		undo()
		// EPERM, EINVAL, ENOSPC, EUSERS from the clone itself: the kernel
		// would not make one of the namespaces (user namespaces switched
		// off, a limit reached). Not from what follows it (the spec sent,
		// the cgroup joined), which is said as it is.
		var start *reexec.StartError
		if errors.As(err, &start) && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS)) {
			return nil, fmt.Errorf("the kernel refused to make the namespaces %s: %w%s; run 'workshop doctor' to see which this machine supports", strings.Join(flagNames(flags), ","), err, whyRefused(err))
		}
		return nil, err
	}
	c := &Container{n: n, id: id, child: child, tty: tty, settings: settings, ttou: ttou, piped: piped,
		stopGrace: cfg.StopGrace, pidNS: flags&unix.CLONE_NEWPID != 0, init: cfg.Init,
		// With a PID namespace the command is PID 1, which drops a Ctrl-Z
		// it has no handler for; with --init, the init resumes it.
		resumeCtrlZ: tty >= 0 && flags&unix.CLONE_NEWPID == 0 && !cfg.Init}
	switch {
	case flags&unix.CLONE_NEWPID != 0 || cfg.StopGrace != 0:
	case flags&unix.CLONE_NEWNS != 0:
		// Its mount namespace, by which the processes its command leaves
		// are found once it ends (endStragglers). Read now: the child is
		// in it from the clone on.
		c.mntNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", c.Pid()))
	case flags == 0:
		// A plain chroot (step 5's walkthrough demo): the child says so,
		// and what a chroot's command leaves is the chroot's lesson.
	default:
		n.Note("no PID namespace and no mount namespace: what the command leaves running is found and killed when it ends only while it stays in its process group; a shell's background jobs and setsid daemons leave it, and may outlive the step")
	}
	if !c.pidNS && cfg.StopGrace == 0 && cfg.StateDir != "" {
		ns, own := namespacesOf(c.Pid(), flags)
		m, err := state.TrackStragglers(cfg.StateDir, id, state.Stragglers{Root: root, Namespaces: ns, Own: own})
		if err != nil {
			n.Note("could not mark the container for clean (%v): were workshop killed, what its command leaves running would outlive it unfound", err)
		} else {
			// Bookkeeping, as a run's record is: said, not shown call by call.
			n.Note("no PID namespace: workshop keeps %s, naming this container's root and namespaces (a mkdir, a write and a rename, not shown), and removes it at the end; were workshop killed, 'workshop clean' kills by it what the command left running", m.Path())
		}
		c.stragglers = m
	}
	if c.pidNS && !cfg.Init {
		c.readers, c.readerNames = pipedOutputs(child.Cmd.Stdout, child.Cmd.Stderr, cfg.Stdout, cfg.Stderr)
	}
	c.forwardSignals(sigs)
	if flags&unix.CLONE_NEWPID != 0 {
		n.Note("the child is pid %d on the host; in its new PID namespace it is pid 1", c.Pid())
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		if err := writeIDMaps(n, c.Pid(), cfg.UIDMap, cfg.GIDMap); err != nil {
			c.Abort()
			// A child stopped on a signal meanwhile has no maps to write.
			if ierr := c.interrupted(); ierr != nil {
				return nil, ierr
			}
			return nil, err
		}
	}
	return c, nil
}

// Pid is the host pid of the container's first process (the command, or
// the init with Config.Init).
func (c *Container) Pid() int { return c.child.Pid() }

// ID is the container's id.
func (c *Container) ID() string { return c.id }

// namespacesOf are process pid's namespaces, by name, as /proc/PID/ns
// names them (not its cgroup one, which the child makes itself, later),
// and own, those of them the clone made (flags).
func namespacesOf(pid int, flags uintptr) (ns map[string]string, own []string) {
	ns = map[string]string{}
	for _, f := range []struct {
		flag uintptr
		name string
	}{{unix.CLONE_NEWNS, "mnt"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWPID, "pid"}} {
		if id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, f.name)); err == nil {
			ns[f.name] = id
		}
		if flags&f.flag != 0 {
			own = append(own, f.name)
		}
	}
	return ns, own
}

// Release lets the child go on: hostname, mounts, /dev, chroot, exec.
func (c *Container) Release() error {
	if err := c.child.Release(); err != nil {
		// A signal came before the release and workshop killed the child
		// (forwardSignals), whose end of the pipe is then closed: that,
		// not the pipe, is what to tell.
		if ierr := c.interrupted(); ierr != nil {
			return ierr
		}
		return fmt.Errorf("release the container's init: %w", err)
	}
	return nil
}

// interrupted is the error of a container that workshop stopped before its
// command ran, because workshop got a signal (forwardSignals); nil if it
// did not.
func (c *Container) interrupted() error { return c.child.Interrupted(false, 0) }

// Kill sends sig to the container's first process, unless it has ended.
func (c *Container) Kill(sig syscall.Signal) error {
	err := ErrEnded
	c.unlessEnded(func() { err = c.n.Kill(c.Pid(), sig) })
	return err
}

// unlessEnded runs signal, which signals the first process or its group,
// under endMu, unless the first process has ended; it reports whether
// signal ran. endMu first, then the narration's lock (Together), as
// everywhere.
func (c *Container) unlessEnded(signal func()) bool {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.ended {
		return false
	}
	signal()
	return true
}

// ErrEnded is Kill's error once the container's first process has ended:
// no signal is sent, for once Wait collects it its pid may be another's.
var ErrEnded = errors.New("the container's first process has ended")

// hangupSIGHUPWindow is how recent a SIGHUP workshop passed on must be to
// be taken for the hang-up's, sent by the student's shell as the
// terminal went (watchTerminal looks every tenth of a second; a slow
// machine's ticks come late).
const hangupSIGHUPWindow = time.Second

// hangupGrace is how long a container may take to end after its terminal
// hung up, where no cgroup watch kills it (Config.StopGrace is 0).
const hangupGrace = 3 * time.Second

// readerGrace is how long a container whose output lost its reader may
// go on before workshop ends it: a program that ends on EPIPE (cat, a
// SIGPIPE handler's) does so at once, and one that does not, a shell's
// loop of echo, writes an error a time meanwhile.
const readerGrace = 300 * time.Millisecond

// Signaled reports whether the container's first process, once waited for,
// was ended by a signal (Wait's status is then 128+n) rather than exiting
// with a code of its own.
func (c *Container) Signaled() bool { return c.child.Signaled() }

// EndedReaderless reports whether workshop killed the container because
// the reader of its output had gone and its PID 1 went on (watchReaders):
// Wait's status is then 141, as for a writer SIGPIPE ended.
func (c *Container) EndedReaderless() bool { return c.readerKilled }

// SetUp reports, once Wait has returned, whether the container got past
// its setup: its command's execve happened, or its init (--init), which
// runs the command as its child, took over. Not for a container killed
// while it was set up.
func (c *Container) SetUp() bool { return c.setUp }

// Run starts the container, releases it and waits for it.
func Run(n *sys.Narrator, cfg Config) (int, error) {
	c, err := Start(n, cfg)
	if err != nil {
		return 0, err
	}
	if err := c.Release(); err != nil {
		c.Abort()
		return 0, err
	}
	return c.Wait()
}

// Abort kills a container that was never released (or cannot be set up)
// and collects it: its init is never let go, even if the kill failed.
func (c *Container) Abort() {
	// Nothing is killed after this one: ended is set at once, and the
	// child collected. (Not awaitEnd: a child never released leaves its
	// wait for the spec only when Wait closes the pipe.)
	c.Kill(unix.SIGKILL)
	c.endMu.Lock()
	c.ended = true
	c.endMu.Unlock()
	c.child.Wait()
	c.stragglers.Done() // killed before its command ran: it left nothing
	c.finishOutput()
	c.stopSignals()
	c.takeTerminalBack()
}

// finishOutput waits for the copies of the container's output to the
// terminal to end (outputPipe.finish), once it has been collected.
func (c *Container) finishOutput() {
	for _, p := range c.piped {
		p.finish(c.n)
	}
	c.piped = nil
}

// whyRefused says what the kernel means by refusing a namespace with err,
// in parentheses, or "": its errno names a full disk (ENOSPC) or a user
// count (EUSERS), which it is not.
func whyRefused(err error) string {
	switch {
	case errors.Is(err, unix.ENOSPC):
		return " (ENOSPC here: the limit on namespaces of one of these kinds is reached, or is 0, which turns that kind off: the user.max_*_namespaces settings, in /proc/sys/user; or user or PID namespaces already nest 32 deep)"
	case errors.Is(err, unix.EUSERS):
		return " (EUSERS here: user namespaces nest at most 32 deep, and this one would be deeper)"
	case errors.Is(err, unix.EINVAL):
		return " (EINVAL here: this kernel may be built without one of these kinds)"
	}
	return ""
}

// keepCaps are the capabilities the command keeps: Docker's default ones
// with Config.DefaultCapabilities, nil (every one) otherwise. Without a
// user namespace, not CAP_MKNOD: there root may make a device node, in
// the /dev made for it, for the host's disk, and open it (Docker keeps
// the capability but its devices cgroup refuses such opens; workshop makes
// no devices cgroup). In a user namespace the kernel refuses device nodes
// whatever the capabilities.
func keepCaps(cfg Config, flags uintptr) []int {
	if !cfg.DefaultCapabilities {
		return nil
	}
	if flags&unix.CLONE_NEWUSER == 0 {
		return slices.DeleteFunc(slices.Clone(DefaultCapabilities), func(c int) bool { return c == unix.CAP_MKNOD })
	}
	return DefaultCapabilities
}

// allCapabilities lists every capability this kernel knows.
func allCapabilities() []uintptr {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = v
		}
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps
}

// prepareRoot makes the directories the child mounts on (proc, dev, sys for
// Config.Sys, and the old root's place for pivot_root), where the root
// lacks them, and refuses one that is not a directory (a symbolic link
// would take the mount elsewhere). The parent makes them, not the child:
// with a user namespace that maps root to an unprivileged host range, root
// inside may not write to a root directory that host root owns.
func prepareRoot(n *sys.Narrator, root string, flags uintptr, pivot, withSys bool) error {
	if flags&unix.CLONE_NEWNS == 0 {
		return nil // nothing is mounted without a mount namespace
	}
	type mountPoint struct {
		name string
		mode uint32
	}
	dirs := []mountPoint{{"proc", 0o555}, {"dev", 0o755}}
	if withSys {
		dirs = append(dirs, mountPoint{"sys", 0o555})
	}
	if pivot {
		dirs = append(dirs, mountPoint{oldRootName, 0o700})
	}
	for _, d := range dirs {
		p := filepath.Join(root, d.name)
		if st, err := os.Lstat(p); err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is in the root but is not a directory: the container mounts a filesystem there", p)
			}
			continue
		}
		err := n.Mkdir(p, d.mode)
		// Two steps started at once in the same root (steps 2 to 4 share
		// my-new-root) both find the directory missing: the other made it.
		if errors.Is(err, unix.EEXIST) {
			if st, serr := os.Lstat(p); serr == nil && st.IsDir() {
				n.Note("%s was made meanwhile by another workshop working in the same root", p)
				continue
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
