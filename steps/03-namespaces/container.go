package namespaces

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	"github.com/workshop-dev/workshop/internal/units"
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

// awaitEnd waits until the first process has ended, without collecting it
// (waitid with WNOWAIT): until Wait collects it, its pid is still its own,
// a zombie's, and a kill that took endMu before this reaches it or
// nothing. From then on kills are skipped. (A wait, as os/exec's that
// follows it: neither is shown.)
func (c *Container) awaitEnd() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Pid(), &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break // ended, or (ECHILD) not ours to wait for: Wait says
		}
	}
	c.endMu.Lock()
	c.ended = true
	c.endMu.Unlock()
}

// Wait waits for the container to end, passing on the stop signals
// (exit.StopSignals) that workshop receives meanwhile, and returns its exit
// status: the command's own, or 128+n when it was killed by signal n. It
// releases the child if Release was not called.
func (c *Container) Wait() (int, error) {
	c.mu.Lock()
	if c.waited {
		c.mu.Unlock()
		return 0, errors.New("the container was already waited for")
	}
	c.waited = true
	c.mu.Unlock()

	c.child.Release() // Wait means go: a no-op if Release was called
	execed := c.child.AwaitExec(c.n)
	waited := make(chan struct{})
	watched := make(chan watchCalls, 1)
	if c.tty >= 0 {
		go func() { watched <- c.watchTerminal(waited) }()
	}
	var readersWatched chan int
	if len(c.readers) > 0 {
		readersWatched = make(chan int, 1)
		go func() { readersWatched <- c.watchReaders(waited) }()
	}
	c.awaitEnd()
	if !c.pidNS && c.stopGrace == 0 {
		// Ended, not yet collected: its process group keeps its number
		// until then, so the kill below reaches no other group.
		c.endStragglers()
	}
	status, err := c.child.Wait()
	c.finishOutput()
	close(waited)
	if readersWatched != nil {
		if calls := <-readersWatched; calls > 0 {
			c.n.Note("… %s while it ran, one every tenth of a second, to see whether the reader of its %s had gone", units.Count(calls, "ppoll call", "ppoll calls"), strings.Join(c.readerNames, " and "))
		}
		if c.readerKilled && status == exit.SignalBase+int(unix.SIGKILL) {
			status = exit.SignalBase + int(unix.SIGPIPE)
		}
	}
	if c.tty >= 0 {
		calls := <-watched
		if calls.waitid > 0 {
			c.n.Note("… %d waitid(P_PID, %d, …, WSTOPPED|WNOWAIT|WNOHANG) calls while it ran, one every tenth of a second, to see a Ctrl-Z", calls.waitid, c.Pid())
		}
		if reads := c.pgrpReads.Load(); reads > 0 {
			c.n.Note("… %s while it ran, about one every tenth of a second, to see which process group had the terminal", units.Count(int(reads), fmt.Sprintf("ioctl(%d, TIOCGPGRP, […]) call", c.tty), fmt.Sprintf("ioctl(%d, TIOCGPGRP, […]) calls", c.tty)))
		}
		poll := fmt.Sprintf("ppoll([{fd=%d, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0)", c.tty)
		times := func(n int) string {
			if n == 1 {
				return "1 " + poll + " call"
			}
			return fmt.Sprintf("%d %s calls", n, poll)
		}
		switch {
		case c.hungUp && calls.ppoll+calls.last > 0:
			c.n.Note("… %s before the one that found the terminal hung up, one every tenth of a second", times(calls.ppoll+calls.last))
		case c.hungUp:
		case calls.ppoll > 0:
			c.n.Note("… %s while the container had the terminal, one every tenth of a second, and once it ended, to see it hang up (it did not)", times(calls.ppoll+calls.last))
		default:
			c.n.Note("… %s once the container ended, to see whether the terminal had hung up (it had not)", times(calls.last))
		}
	}
	if c.hangupKilled && err == nil && status == exit.SignalBase+int(unix.SIGKILL) {
		err = exit.Errorf(status, "the container had not ended %s after its terminal hung up: workshop killed it", hangupGrace)
	}
	c.stopSignals()
	c.takeTerminalBack()
	if ierr := c.child.Interrupted(execed, status); ierr != nil && err == nil {
		return exit.Status(ierr), ierr
	}
	return status, err
}

// endStragglers kills what the command left running (sh -c 'sleep 100 &',
// an interactive shell's background job), in a container with no PID
// namespace, whose end would have ended them, and no cgroup to kill them
// by: they would outlive the step, chrooted in its root, holding its mount
// namespace, and clean leaves a root in use. They are found in the
// command's process group, and, with a mount namespace, in that namespace
// (a shell's job has a group of its own; so has a setsid daemon). Called
// once the first process has ended, before it is collected.
func (c *Container) endStragglers() {
	leader := c.Pid()
	// Found, killed, looked for again: a process found in the group may
	// leave it (setsid) before the group's kill, and is then found in the
	// mount namespace, to be killed by its pid.
	inKilledGroup, killedByPid := map[int]bool{}, map[int]bool{}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		inGroup, inNS := stragglers(leader, c.mntNS)
		if len(inGroup)+len(inNS) == 0 {
			return
		}
		newInGroup := slices.ContainsFunc(inGroup, func(pid int) bool { return !inKilledGroup[pid] })
		inNS = slices.DeleteFunc(inNS, func(pid int) bool { return killedByPid[pid] })
		if !newInGroup && len(inNS) == 0 {
			continue // killed, not gone yet
		}
		if len(inKilledGroup)+len(killedByPid) == 0 {
			where := fmt.Sprintf("in its process group %d", leader)
			switch {
			case len(inGroup) == 0:
				where = "in its mount namespace"
			case len(inNS) > 0:
				where += " and its mount namespace"
			}
			them := "them"
			if len(inGroup)+len(inNS) == 1 {
				them = "it"
			}
			c.n.Note("%s the command started outlived it, %s: killing %s, as the end of a PID namespace's first process would have",
				units.Count(len(inGroup)+len(inNS), "process", "processes"), where, them)
		}
		if newInGroup {
			// The group's number is its ended leader's still: no
			// other group can have it.
			c.n.Kill(-leader, unix.SIGKILL)
			for _, pid := range inGroup {
				inKilledGroup[pid] = true
			}
		}
		for _, pid := range inNS {
			c.n.Kill(pid, unix.SIGKILL)
			killedByPid[pid] = true
		}
	}
	if g, ns := stragglers(leader, c.mntNS); len(g)+len(ns) > 0 {
		c.n.Note("%s the command left still there a second after the kill: 'workshop clean' leaves a root in use; ps -o pid,stat,cmd -p %s shows them",
			units.Count(len(g)+len(ns), "process", "processes"), strings.Trim(strings.ReplaceAll(fmt.Sprint(append(g, ns...)), " ", ","), "[]"))
	}
}

// stragglers lists the living processes, other than leader, in leader's
// process group, and (mntNS not "") those in the mount namespace mntNS.
func stragglers(leader int, mntNS string) (inGroup, inNS []int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == leader {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp …: comm may hold spaces and ")".
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue // a zombie: dead already
		}
		if f[2] == strconv.Itoa(leader) {
			inGroup = append(inGroup, pid)
			continue
		}
		if mntNS != "" {
			if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && ns == mntNS {
				inNS = append(inNS, pid)
			}
		}
	}
	return inGroup, inNS
}

// watchCalls counts the calls watchTerminal made, for the narration.
// ppoll are the looks at the terminal every tenth of a second, last the
// calls of the look once the container ended; neither counts the one
// printed, that found the hang-up.
type watchCalls struct{ waitid, ppoll, last int }

// hangupSIGHUPWindow is how recent a SIGHUP workshop passed on must be to
// be taken for the hang-up's, sent by the student's shell as the
// terminal went (watchTerminal looks every tenth of a second; a slow
// machine's ticks come late).
const hangupSIGHUPWindow = time.Second

// hangupGrace is how long a container may take to end after its terminal
// hung up, where no cgroup watch kills it (Config.StopGrace is 0).
const hangupGrace = 3 * time.Second

// watchTerminal watches, every tenth of a second while the command has
// the terminal, for what nothing else would see:
//
//   - The terminal hanging up (its window closed, its ssh session dropped,
//     its shell killed). The kernel sends SIGHUP to the terminal's
//     controlling process, the shell, and once that ends to the foreground
//     group, the container's, where a PID 1 without a handler drops it;
//     never to workshop, in the background. An interactive bash passes its
//     own on to its jobs, workshop among them; sh and a killed shell do not. The
//     container would outlive the terminal, for ever. Unless it got one
//     already, workshop sends itself the SIGHUP a shell sends its jobs,
//     which ends the container as any stop signal does (passed on, then,
//     where a cgroup watch is, its group killed StopGrace later); with no
//     such watch (steps 3 and 5), it kills the container hangupGrace later:
//     nobody can reach it any more.
//   - With resumeCtrlZ, a Ctrl-Z: a shell would take the terminal back and
//     resume the job later; here nothing would, and the terminal would stay
//     with a stopped program. os/exec's wait does not report stops: they
//     are looked for with waitid(WSTOPPED|WNOWAIT|WNOHANG), which reports
//     without collecting anything.
//
// It returns how many calls it made and did not print, for the narration
// to count.
func (c *Container) watchTerminal(waited <-chan struct{}) (calls watchCalls) {
	pid := c.Pid()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var kill <-chan time.Time
	// look polls the terminal once, counting the calls in count; a
	// terminal that hung up says so from then on.
	look := func(count *int) bool {
		hup, n, _ := c.n.TerminalHungUp(c.tty)
		*count += n
		if hup {
			*count-- // the call that found it is printed
			c.hungUp = true
		}
		return hup
	}
	told := false // of the stop under way, left as it is: said once a stop
	// workshop stopped from outside (kill -TSTP or -STOP of its pid; a
	// Ctrl-Z goes to the container) loses the terminal to the shell, and
	// the shell's fg gives it back to workshop's process group, not to
	// the container's, where an interactive PID 1 then reads from the
	// background for ever. On SIGCONT, workshop hands it back to the
	// group of the container's that had it, seen at the last tick.
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, unix.SIGCONT)
	defer signal.Stop(cont)
	containerFg := 0
	for {
		select {
		case <-cont:
			if c.suspending.Load() {
				continue // suspend gives the terminal back itself
			}
			// A container suspend stopped goes on once workshop has
			// the terminal again; the terminal goes back to it first.
			c.resumeIfForeground()
			c.handBack(containerFg)
			continue
		case <-waited:
			// The command may have ended of the terminal's own SIGHUP,
			// before a tick saw the hang-up: looked for once more, so as
			// not to take back a terminal that is gone.
			if !c.hungUp && look(&calls.last) {
				c.n.Note("the terminal hung up: the container ended meanwhile")
			}
			return calls
		case <-kill:
			kill = nil
			select {
			case <-waited:
				continue // it ended as the grace did: nothing to kill
			default:
			}
			if c.killLeftByTerminal() {
				c.hangupKilled = true
			}
			continue
		case <-tick.C:
		}
		if c.hungUp {
			continue // waiting for the end, or for the kill
		}
		// bash's fg of a job it runs in the background sends no SIGCONT:
		// the terminal handed back is seen here.
		c.resumeIfForeground()
		c.handBack(containerFg)
		if fg, err := c.foregroundGroup(); err == nil && c.ownsGroup(fg) {
			containerFg = fg // the container's (never the shell's, which has it while workshop is stopped)
			c.lastFg.Store(int64(fg))
		}
		if look(&calls.ppoll) {
			// A SIGHUP passed on within the window came with the
			// hang-up; one that came earlier, sent by someone, did not
			// end the container.
			c.endMu.Lock()
			passed := c.passedSIGHUP
			c.endMu.Unlock()
			// time.Time keeps the monotonic clock, which a change of
			// the wall clock (NTP, a VM resumed) does not move.
			if !passed.IsZero() && time.Since(passed) < hangupSIGHUPWindow {
				c.n.Note("the terminal hung up; workshop got a SIGHUP just before (a shell passes its own on to its jobs), and passed it on")
			} else {
				// Together: the kill's line before the note the
				// forwarder prints on catching the signal it sends.
				c.n.Together(func(n *sys.Narrator) {
					n.Note("the terminal hung up: the kernel sends its SIGHUP to the terminal's controlling process (the shell) and, when that ends, to the container's process group, never to workshop's; workshop sends itself the SIGHUP a shell sends its jobs")
					n.Kill(os.Getpid(), unix.SIGHUP)
				})
			}
			if c.stopGrace == 0 {
				t := time.NewTimer(hangupGrace)
				defer t.Stop()
				kill = t.C
			}
			continue
		}
		if !c.resumeCtrlZ {
			continue
		}
		var info unix.Siginfo
		calls.waitid++
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WNOWAIT|unix.WNOHANG, nil); err != nil {
			continue // collected meanwhile: waited is closed at once
		}
		childPid, code, status := sys.ChildInfo(&info)
		switch {
		case childPid != pid || code != sys.CLDStopped:
			told = false // running (or resumed): a next stop is said again
		case status == int(unix.SIGTSTP):
			c.unlessEnded(func() {
				c.n.Note("the command was stopped by SIGTSTP (Ctrl-Z): there is no shell here to take the terminal back and resume it later, so workshop resumes it now")
				c.n.Kill(-pid, unix.SIGCONT) // its process group: the whole job
			})
		case status == int(unix.SIGSTOP) && (c.suspending.Load() || c.leftStopped()):
			// suspend's own stop, of workshop too: not said.
		case status == int(unix.SIGSTOP) && !told:
			told = true
			// "kill -CONT -- -PID" is refused by dash's and busybox's kill
			// ("Illegal number"); the signal first, then -PID, is taken by
			// every shell's kill and by procps' /bin/kill.
			c.n.Note("%s", stoppedHoldingTerminal(fmt.Sprintf("kill -CONT -%d (its process group)", pid), fmt.Sprintf("kill -KILL -%d", pid)))
		}
	}
}

// readerGrace is how long a container whose output lost its reader may
// go on before workshop ends it: a program that ends on EPIPE (cat, a
// SIGPIPE handler's) does so at once, and one that does not, a shell's
// loop of echo, writes an error a time meanwhile.
const readerGrace = 300 * time.Millisecond

// pipedOutputs are the descriptors of the container's outputs, out and
// errOut, that are pipes or sockets given to it as they are (the caller's
// own, given: not a pipe workshop copies to a terminal), each once, and
// what they are.
func pipedOutputs(out, errOut, given, givenErr io.Writer) (fds []int, names []string) {
	var files []*os.File
	for _, o := range []struct {
		w, given io.Writer
		name     string
	}{{out, given, "standard output"}, {errOut, givenErr, "standard error"}} {
		f, ok := o.w.(*os.File)
		if !ok || o.w != o.given || !writesToPipe(f) {
			continue
		}
		if len(files) == 1 && sameFile(files[0], f) {
			names[0] = "standard output and error"
			continue
		}
		files = append(files, f)
		fds = append(fds, int(f.Fd()))
		names = append(names, o.name)
	}
	return fds, names
}

// watchReaders watches the container's outputs that are pipes while it
// runs, every tenth of a second: with a PID namespace and no init, the
// command is a PID 1, and the kernel sends a PID 1 no signal it has no
// handler for, SIGPIPE included. Where any other process writing to a
// pipe whose reader has gone (workshop full run -- yes | head) is ended at
// its next write, a PID 1 gets EPIPE and may go on for ever. So once the
// reader is gone, workshop sends SIGPIPE (for a handler it may have), and
// kills the container readerGrace later if it still runs: also one that
// would not have written again (sh -c 'work; echo done >&2' | true), which
// a PID 1 that is not would finish; workshop does not see the container's
// writes (they go straight to the pipe), and ending a pipeline's writer
// whose reader went is the pipeline's way. It returns the calls made and
// not printed.
func (c *Container) watchReaders(waited <-chan struct{}) (calls int) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-waited:
			return calls
		case <-tick.C:
		}
		fd, made, err := c.n.OutputReaderGone(c.readers)
		calls += made
		if err != nil {
			return calls
		}
		if fd < 0 {
			continue
		}
		calls-- // the call that found it is printed
		what := c.readerNames[slices.Index(c.readers, fd)]
		c.unlessEnded(func() {
			c.n.Together(func(n *sys.Narrator) {
				n.Note("the reader of the container's %s has gone (as head goes once it has its lines): any other process would be ended by SIGPIPE at its next write, "+
					"but the kernel sends a PID 1 no signal it has no handler for; workshop sends SIGPIPE, for a handler it may have, and ends the container if it still runs %s later, "+
					"whether or not it writes again (workshop does not see its writes, and its output has nowhere to go)", what, readerGrace)
				n.Kill(c.Pid(), unix.SIGPIPE)
			})
		})
		t := time.NewTimer(readerGrace)
		defer t.Stop()
		select {
		case <-waited:
			return calls
		case <-t.C:
		}
		c.unlessEnded(func() {
			c.n.Note("the container went on without the reader of its %s: workshop kills its PID 1, and with it its PID namespace, and exits 141, as a shell reports a writer that SIGPIPE ended", what)
			c.readerKilled = c.n.Kill(c.Pid(), unix.SIGKILL) == nil
		})
		return calls
	}
}

// killLeftByTerminal kills a container that has not ended hangupGrace
// after its terminal hung up. With a PID namespace, its PID 1 takes every
// process of it along. Without, its process group, and with --init the
// command's too: the init starts it in a group of its own. (A process
// that left its group is out of reach, as after any run without a PID
// namespace: step 4's cgroup holds them all.) It reports whether a kill
// went through.
func (c *Container) killLeftByTerminal() (killed bool) {
	// One that ended as the grace did has nothing to kill.
	c.unlessEnded(func() {
		pid := c.Pid()
		if c.pidNS {
			c.n.Note("the container has not ended %s after its terminal hung up, and nobody can reach it any more: workshop kills its PID 1, and with it its PID namespace", hangupGrace)
			killed = c.n.Kill(pid, unix.SIGKILL) == nil
			return
		}
		groups := []int{pid}
		whose := "its process group"
		if c.init {
			groups = append(groupLeadersAmong(state.Children(pid)), pid)
			whose = "the process groups of its init and of the command"
		}
		c.n.Note("the container has not ended %s after its terminal hung up, and nobody can reach it any more: workshop kills %s", hangupGrace, whose)
		for _, g := range groups {
			if c.n.Kill(-g, unix.SIGKILL) == nil {
				killed = true
			}
		}
	})
	return killed
}

// groupLeadersAmong keeps the pids that lead a process group: the init's
// command does, and an orphan the init adopted (it is a subreaper) need
// not. A group's id cannot be another's while its leader lives, so -pid
// then names that group and no other; a pid that has ended, or leads
// none, is left out (getpgid, a look that changes nothing: not shown).
func groupLeadersAmong(pids []int) []int {
	var leaders []int
	for _, p := range pids {
		if g, err := unix.Getpgid(p); err == nil && g == p {
			leaders = append(leaders, p)
		}
	}
	return leaders
}

// stoppedHoldingTerminal is the note for a command stopped by SIGSTOP
// (bash's suspend, kill -STOP) while it holds the terminal: workshop
// resumes a Ctrl-Z, but a SIGSTOP is sent on purpose, and resuming it
// would undo it. Nothing typed reaches anyone: it says the way out, the
// commands that resume and end it from another terminal.
func stoppedHoldingTerminal(resume, end string) string {
	return fmt.Sprintf("the command was stopped by SIGSTOP (bash's suspend, kill -STOP) while it has the terminal: nothing typed here reaches it, and no shell here takes the terminal back; from another terminal, %s resumes it, %s ends it", resume, end)
}

// Signaled reports whether the container's first process, once waited for,
// was ended by a signal (Wait's status is then 128+n) rather than exiting
// with a code of its own.
func (c *Container) Signaled() bool { return c.child.Signaled() }

// EndedReaderless reports whether workshop killed the container because
// the reader of its output had gone and its PID 1 went on (watchReaders):
// Wait's status is then 141, as for a writer SIGPIPE ended.
func (c *Container) EndedReaderless() bool { return c.readerKilled }

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

// forwardSignals passes the stop signals (exit.StopSignals) on to the
// container until Wait has collected it. A PID 1 without a handler for them
// ignores them: the lesson of --init.
func (c *Container) forwardSignals(sigs chan os.Signal) {
	c.stopForwarding = make(chan struct{})
	c.forwardingDone = make(chan struct{})
	go func() {
		defer close(c.forwardingDone)
		defer exit.Stop(sigs)
		for {
			select {
			case s := <-sigs:
				sig := s.(syscall.Signal)
				if sig == unix.SIGTSTP {
					c.suspend()
					continue
				}
				// Only once the child has exec'd the command, or its init
				// has taken over passing signals on, does a signal go on
				// to the container.
				// Still workshop's init, before the command: a Go program
				// as PID 1 would only exit 2 with no word. A stop signal
				// stops the container there; SIGUSR1/2 are for the
				// command, which is not there yet.
				if !slices.Contains(exit.StopSignals, os.Signal(sig)) && !c.child.PastSetup() {
					c.n.Note("workshop got %s before the container's command ran: not passed on", sys.SignalName(sig))
					continue
				}
				c.endMu.Lock()
				c.passOn(sig)
				c.endMu.Unlock()
			case <-c.stopForwarding:
				return
			}
		}
	}()
}

// passOn passes sig on to the container, for forwardSignals, which holds
// endMu (its state is guarded by it): a container whose first process has
// ended gets no kill, but a note.
func (c *Container) passOn(sig syscall.Signal) {
	if c.ended {
		c.n.Note("workshop got %s as the container ended: there is nothing to pass it on to", sys.SignalName(sig))
		return
	}
	if c.child.StopBeforeExec(c.n, sig, "container") {
		return
	}
	name := sys.SignalName(sig)
	var note string
	switch {
	case c.stopGrace == 0 || !slices.Contains(exit.StopSignals, os.Signal(sig)):
		note = fmt.Sprintf("workshop got %s: passing it on to the container", name)
	case c.stopPassed:
		// The second: the cgroup's watch kills the container
		// now, and says so.
		return
	default:
		// Said here, with the kill, and not by the watch: two
		// goroutines' notes came in either order.
		c.stopPassed = true
		// A second SIGHUP does not kill at once: a terminal's
		// hang-up may come from its shell and from workshop's
		// own watch (watchTerminal).
		again := name + " again"
		if sig == unix.SIGHUP {
			again = "SIGTERM"
		}
		note = fmt.Sprintf("workshop got %s: passing it on to the container; if it has not ended in %s, its whole cgroup is killed (send %s to kill it now)", name, c.stopGrace, again)
	}
	// The note and its kill together: a second signal, sent as
	// soon as the note is read, made the watch say its own
	// between them.
	c.n.Together(func(n *sys.Narrator) {
		n.Note("%s", note)
		if n.Kill(c.Pid(), sig) == nil && sig == unix.SIGHUP {
			c.passedSIGHUP = time.Now()
		}
	})
	// Stopped by suspend, and workshop in the background since (bg): the
	// signal waits until the container goes on. Continued in the
	// background, an interactive PID 1 that ignores it would spin there,
	// and never get the terminal back.
	if c.stopped != nil {
		c.n.Note("the container is stopped (workshop was stopped, then continued in the background): the signal waits until it goes on, with fg; SIGKILL (kill -KILL of the pid the clone returned) ends it now")
	}
}

func (c *Container) stopSignals() {
	if c.stopForwarding == nil {
		return
	}
	select {
	case <-c.stopForwarding:
	default:
		close(c.stopForwarding)
	}
	<-c.forwardingDone
}

// takeTerminalBack makes workshop's process group the terminal's foreground
// again. workshop is in the background then, and a background process that
// changes the foreground group gets SIGTTOU unless it ignores it.
func (c *Container) takeTerminalBack() {
	if c.tty < 0 {
		return
	}
	if c.hungUp {
		c.n.Note("the terminal hung up: there is no terminal to take back, nor settings to put back")
		c.tty = -1
		// SIGTTOU is ignored since the clone (see Start), so that the
		// narration goes on from the background.
		c.n.Because("workshop is done with its terminal: SIGTTOU as it was").RestoreSignals(c.ttou)
		return
	}
	// In the background since (kill -TSTP, then bg), workshop finds the
	// terminal with another process group than its own or the
	// container's: its shell's. Taken, it left the shell reading from the
	// background, and an interactive bash then exits. It stays there, and
	// so does SIGTTOU's ignoring: workshop's last lines, from the
	// background, would stop it under stty tostop, the rt_sigaction's own
	// first.
	if now, err := c.n.ForegroundGroup(c.tty); err == nil && now != unix.Getpgrp() && !c.containerGroup(now) {
		c.n.Note("workshop runs in the background now (bg): the terminal is with process group %d, its shell's, and stays there; SIGTTOU stays ignored until workshop exits, so that its last lines are written", now)
		c.tty = -1
		return
	}
	// The change of the foreground group, from the background, gets
	// SIGTTOU unless it is ignored: put back after.
	defer c.n.Because("workshop has its terminal back: SIGTTOU as it was").RestoreSignals(c.ttou)
	c.n.SetForegroundGroup(c.tty, unix.Getpgrp())
	if c.settings != nil {
		c.n.RestoreTerminalSettings(c.tty, c.settings)
	}
	c.tty = -1
}

// writesToPipe reports whether the command's output goes to a pipe: then
// workshop is in a pipeline (workshop step 3 -- ps | less) whose other
// programs share its process group, and handing the terminal to the
// container's would put them in the background, where less reading the
// keyboard is stopped. (Output to a file keeps the terminal for the
// container: its input may be typed.)
func writesToPipe(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	// A socket too: ksh93 joins a pipeline's programs with socketpairs.
	return err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
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

// NoTerminalFor says why a container whose input is stdin, a terminal,
// and whose output is stdout would not be handed the terminal (see Start),
// or "" when it would be.
func NoTerminalFor(stdin *os.File, stdout io.Writer) string {
	switch {
	case !OwnsTerminal(int(stdin.Fd())):
		return "workshop runs in the background"
	case writesToPipe(stdout):
		return "workshop's output goes to a pipe"
	}
	return ""
}

// handBack gives the terminal back to the container's process group fg
// (the last one seen with it) when workshop's own group has it: the
// shell's fg gave it there, after workshop was stopped from outside (kill
// -TSTP, -STOP), where an interactive PID 1 could not read it (and spun).
// On SIGCONT, and at each tick: bash's fg of a job it had continued in the
// background (bg) sends no SIGCONT.
func (c *Container) handBack(fg int) {
	if fg <= 0 || c.hungUp || c.leftStopped() {
		return // suspend's stop: resumeIfForeground hands it back
	}
	if now, err := c.foregroundGroup(); err != nil || now != unix.Getpgrp() {
		return
	}
	c.unlessEnded(func() {
		// Ended while workshop was stopped (awaitEnd could not say so
		// then), or the group is no longer its.
		if c.firstIsZombie() || !c.ownsGroup(fg) {
			return
		}
		c.n.Note("workshop was stopped, and continued in the foreground (fg): the terminal came back to its process group; it goes back to the container's process group %d, which had it", fg)
		c.n.SetForegroundGroup(c.tty, fg)
	})
}

// containerGroup reports whether process group g was the container's, or
// is no one's now: its first process's, the last one seen with the
// terminal, or a group whose leader has ended (the container's, ended).
func (c *Container) containerGroup(g int) bool {
	// (No child: Start's undo, after a failed start, takes the terminal
	// back with a Container of its own.)
	if c.child != nil && g == c.Pid() || int64(g) == c.lastFg.Load() {
		return true
	}
	p, ok := state.Stat(g)
	return !ok || p.Ended() || p.Group != g
}

// leftStopped reports whether suspend left the container stopped
// (workshop continued in the background).
func (c *Container) leftStopped() bool {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	return c.stopped != nil
}

// foregroundGroup reads the terminal's foreground process group
// (ioctl TIOCGPGRP), counted in pgrpReads: watchTerminal reads it at every
// tick, and Wait says how many times, not each.
func (c *Container) foregroundGroup() (int, error) {
	c.pgrpReads.Add(1)
	return unix.IoctlGetInt(c.tty, unix.TIOCGPGRP)
}

// OwnsTerminal reports whether fd is a terminal whose foreground process
// group is workshop's: only then may workshop hand it to the container.
func OwnsTerminal(fd int) bool {
	if !term.IsTerminal(fd) {
		return false
	}
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
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
