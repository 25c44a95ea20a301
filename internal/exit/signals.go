package exit

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Workshop receives the stop signals (StopSignals: SIGINT, SIGTERM,
// SIGHUP, SIGQUIT, a sent SIGABRT…) from its first milliseconds on (Route,
// from package guard's init), and one goroutine, under one lock, decides
// what each does: it goes to the channels of the code that catches it
// (Notify), which has something to make or undo, or, with none, its default
// is carried out there and then, the lock kept until the process is gone.
//
// Not os/signal alone, as before: a Ctrl-C that came before a run's
// signal.Notify was Go's to answer, and Go decides in its signal handler to
// end the program, then ends it: a thread descheduled between the two (a
// busy machine, a slow VM) let the run go on, catch signals, make its
// overlay mount, cgroup and record, and die with them left behind. Here,
// the decision and the catchers' registration take the same lock: a signal
// is either carried out before any code that makes something has
// registered, or handed to that code; and one that Go took before Route
// is carried out before the first catcher registers (settle).
var (
	routeMu sync.Mutex
	// routed are the stop signals Route receives; nil before Route and in
	// a re-executed child, where Notify is signal.Notify.
	routed     map[os.Signal]bool
	received   chan os.Signal // where os/signal delivers them, for the dispatcher
	routedList []os.Signal
	catchers   = map[chan<- os.Signal][]os.Signal{}
	// settled is closed once settle has looked, after Route.
	settled = make(chan struct{})
)

// ignoredAtStart are the stop signals this process was started with
// ignored, as the Go runtime found them before any package's init: SIGINT
// and SIGHUP only, the two whose inherited SIG_IGN Go respects (a script's
// background job ignores SIGINT, nohup ignores SIGHUP); on SIGTERM, SIGQUIT
// and the fault signals it installs its handler whatever it inherited.
var ignoredAtStart = func() map[os.Signal]bool {
	m := map[os.Signal]bool{}
	for _, sig := range []os.Signal{unix.SIGINT, unix.SIGHUP} {
		if signal.Ignored(sig) {
			m[sig] = true
		}
	}
	return m
}()

// IgnoredAtStart reports whether this process was started with sig ignored
// (SIGINT or SIGHUP: see Heeded).
func IgnoredAtStart(sig os.Signal) bool { return ignoredAtStart[sig] }

// Heeded returns sigs without those this process was started with ignored.
// Workshop and its re-executed children leave those ignored throughout, as
// a Unix program is expected to: caught, the Ctrl-C a shell keeps from a
// script's background job, or the hang-up `nohup` was asked to shield a run
// from, would stop the run. The container's command then starts with them
// ignored too, as under `nohup unshare … chroot …`.
func Heeded(sigs ...os.Signal) []os.Signal {
	var heeded []os.Signal
	for _, s := range sigs {
		if !ignoredAtStart[s] {
			heeded = append(heeded, s)
		}
	}
	return heeded
}

// Route starts receiving the stop signals and dispatching them, w being
// where a quit's sentence is said. Called once, before any code catches a
// stop signal. A SIGINT or SIGHUP ignored when workshop started is neither
// received nor caught (Heeded).
func Route(w io.Writer) {
	var sigs []os.Signal
	routeMu.Lock()
	routed = map[os.Signal]bool{}
	// SIGQUIT and the fault signals first: os/signal turns them on one by
	// one, a few microseconds each, and until then Go answers those with
	// every goroutine's stack (SIGINT, SIGTERM and SIGHUP only end the
	// program, as their default does).
	for _, s := range Heeded(append(append([]os.Signal{unix.SIGQUIT}, FaultSignals...), TerminalSignals...)...) {
		if slices.Contains(sigs, s) {
			continue
		}
		routed[s] = true
		sigs = append(sigs, s)
	}
	received, routedList = make(chan os.Signal, 16), sigs
	routeMu.Unlock()
	signal.Notify(received, sigs...)
	go func() {
		for s := range received {
			if f, ok := s.(flushed); ok {
				close(f)
				continue
			}
			dispatch(s.(unix.Signal), w)
		}
	}()
	go func() {
		settle(time.Second)
		close(settled)
	}()
}

// flushed goes through the dispatcher's queue behind the signals already
// in it, and is closed when it comes out (Flush).
type flushed chan struct{}

func (flushed) String() string { return "flush" }
func (flushed) Signal()        {}

// settle waits until no thread of workshop is in a signal handler: one that
// took a stop signal before Route and decided, as Go does with a signal
// nobody catches, to end the program, ends it before the first catcher
// registers (Notify waits for settle), not later with a run's mount and
// cgroup made. It looks on a goroutine of its own, started by Route, while
// the command line is parsed: a tenth of a millisecond or two of the
// other CPU's, not of the run's. A Go handler runs with every signal blocked
// but the one it raises again to end the program (inHandler); so, for a
// moment, does a thread the runtime is starting, and one that forks, until
// its child's execve (step 2 asks the loader before it catches a signal:
// the look may wait that millisecond). It gives up
// after limit, so that a mask nobody foresaw cannot hold every command up
// for longer; a thread told to end the program and held off the CPU longer
// than that would still end it late.
func settle(limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
		if n, err := threadsInHandler(); err != nil || n == 0 {
			return
		}
	}
}

// threadsInHandler counts the threads of this process that run a signal
// handler now, as far as their masks tell (inHandler).
func threadsInHandler() (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tasks {
		if m, err := blockedSignals("/proc/self/task/" + t.Name() + "/stat"); err == nil && inHandler(m) {
			n++
		}
	}
	return n, nil
}

// inHandler tells a Go signal handler's mask: every signal blocked that
// can be (not SIGKILL nor SIGSTOP), but maybe a stop signal the handler
// unblocked to raise it again. Signals 1 to 31 only, as /proc's stat files
// show them (blockedSignals).
func inHandler(blocked uint32) bool {
	var stop uint32
	for _, s := range StopSignals {
		stop |= sigBit(s.(unix.Signal))
	}
	all := ^uint32(0) &^ (sigBit(unix.SIGKILL) | sigBit(unix.SIGSTOP) | 1<<31)
	return (blocked|stop)&all == all
}

func sigBit(s unix.Signal) uint32 { return 1 << (uint(s) - 1) }

// blockedSignals is the "blocked" field of a /proc stat file (proc(5),
// the 32nd): the thread's blocked signals among 1 to 31, signal n as bit
// n-1. (The status file has all 64, but takes the kernel twice as long to
// write.)
func blockedSignals(stat string) (uint32, error) {
	fd, err := unix.Open(stat, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return 0, err
	}
	line := string(buf[:n])
	// The command's name, the second field, is in parentheses and may
	// hold spaces: count from the last ')'.
	i := strings.LastIndexByte(line, ')')
	fields := strings.Fields(line[i+1:])
	const blocked = 32 - 3 // counted from the third
	if i < 0 || len(fields) <= blocked {
		return 0, fmt.Errorf("%s: no blocked field", stat)
	}
	v, err := strconv.ParseUint(fields[blocked], 10, 64)
	return uint32(v), err
}

// dispatch hands sig to its catchers, or carries out its default.
func dispatch(sig unix.Signal, w io.Writer) {
	seenMu.Lock()
	seenAt[sig] = time.Now()
	seenMu.Unlock()
	routeMu.Lock()
	caught := false
	for c, sigs := range catchers {
		if slices.Contains(sigs, os.Signal(sig)) {
			caught = true
			select {
			case c <- sig:
			default: // as os/signal: a full channel has one waiting already
			}
		}
	}
	if caught {
		routeMu.Unlock()
		return
	}
	// Nothing is being made or undone, and nothing can start to be while
	// the lock is held: it never is released.
	quitting.Store(true)
	quit(sig, w)
}

// quitting is set once dispatch carries out a stop signal's default: the
// process is ending.
var quitting atomic.Bool

// seenAt is when dispatch last had each stop signal, caught or not.
var (
	seenMu sync.Mutex
	seenAt = map[os.Signal]time.Time{}
)

// AwaitOwnStop is for a child of workshop's, started at since, that died
// of sig: a Ctrl-C at a terminal goes to workshop's whole process group,
// and workshop's wait for the child may return before its own signal is
// dispatched. It waits up to limit for that dispatch. Where it carries out
// the signal's default (no code catches it), workshop ends and this never
// returns; where code catches it, it returns true: the caller is being
// stopped, and says so, not the child's death. False: no such signal came
// to workshop (the child's was sent to it alone, or is not a terminal's).
func AwaitOwnStop(sig os.Signal, since time.Time, limit time.Duration) bool {
	if !slices.Contains(TerminalSignals, sig) {
		return false
	}
	for deadline := time.Now().Add(limit); ; time.Sleep(time.Millisecond) {
		if quitting.Load() {
			select {} // quit ends the process
		}
		seenMu.Lock()
		at, ok := seenAt[sig]
		seenMu.Unlock()
		if ok && !at.Before(since) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// quit ends workshop as sig's default would, and never returns. Ctrl-\
// (SIGQUIT) and the fault signals kill(1) can send (FaultSignals: kill
// -ABRT, kill -SEGV…), which Go answers with a dump of every goroutine's
// stack and exit 2, end it with 128+n and a sentence on w. SIGINT, SIGTERM
// and SIGHUP end it as Go does, without a word, killed by the signal: a
// shell that started it sees it so.
func quit(sig unix.Signal, w io.Writer) {
	say := func(format string, args ...any) {
		// Not held for ever by a stderr nobody reads (a full pipe), with
		// the lock taken.
		done := make(chan struct{})
		go func() {
			fmt.Fprintf(w, format, args...)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	}
	switch {
	case sig == unix.SIGQUIT:
		say("workshop: quit (SIGQUIT)\n")
	case slices.Contains(FaultSignals, os.Signal(sig)):
		say("workshop: stopped by %s, sent by another process\n", unix.SignalName(sig))
	default:
		signal.Reset(sig)
		unix.Kill(unix.Getpid(), sig)
		// Go's handler ends the program, from another thread maybe:
		// given the moment it takes.
		time.Sleep(time.Second)
	}
	os.Exit(SignalBase + int(sig))
}

// Notify is signal.Notify(c, sigs...) for code that has something to make
// or undo: from its return on, every stop signal among sigs comes to c,
// also one that came before it and was not carried out yet. A signal the
// process was started with ignored is left ignored (Heeded).
func Notify(c chan<- os.Signal, sigs ...os.Signal) {
	var direct []os.Signal
	routeMu.Lock()
	if routed != nil {
		<-settled
	}
	for _, s := range Heeded(sigs...) {
		switch {
		case !routed[s]:
			direct = append(direct, s)
		case !slices.Contains(catchers[c], s):
			catchers[c] = append(catchers[c], s)
		}
	}
	routeMu.Unlock()
	if len(direct) > 0 {
		signal.Notify(c, direct...)
	}
}

// Flush returns once every signal workshop has received so far (that the
// kernel has handed to one of its threads) has been handed on to the
// channels that catch it (Notify): a last look at such a channel, after
// Flush, misses none that came before. signal.Stop of a channel of its own
// returns once os/signal has delivered what it had, and the flush comes
// out of the dispatcher's queue behind it. Without Route, it does nothing.
func Flush() {
	if received == nil {
		return
	}
	tmp := make(chan os.Signal, 1)
	signal.Notify(tmp, routedList...)
	signal.Stop(tmp)
	f := make(flushed)
	received <- f
	<-f
}

// Stop is signal.Stop(c): no signal comes to c once it returns, and every
// one that came before has (or its channel was full). Stopping twice is
// harmless.
func Stop(c chan<- os.Signal) {
	routeMu.Lock()
	_, catching := catchers[c]
	routeMu.Unlock()
	if catching {
		// A signal received before Stop may wait in os/signal or in the
		// dispatcher's queue: handed on to c before c goes, not met by no
		// catcher and carried out.
		Flush()
	}
	routeMu.Lock()
	delete(catchers, c)
	routeMu.Unlock()
	signal.Stop(c)
}
