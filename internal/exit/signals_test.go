package exit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests below run this test binary again as a small program of their
// own (helperEnv names which): Route's default ends the process.
const helperEnv = "WORKSHOP_EXIT_SIGNALS_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		helpers[name]()
		os.Exit(0)
	}
	// The helpers send themselves SIGINT, and leave it ignored if they
	// were started so (Heeded): under a harness that ignores it, this
	// binary catches it instead, and its helpers start with the default
	// (as internal/testbin's init does for the other packages' tests).
	for _, s := range []os.Signal{unix.SIGINT, unix.SIGHUP} {
		if signal.Ignored(s) {
			signal.Notify(make(chan os.Signal, 1), s)
		}
	}
	os.Exit(m.Run())
}

var helpers = map[string]func(){
	// A SIGINT that came before its catcher registered, while the
	// dispatcher was not yet deciding (held here on its lock, as a
	// descheduled thread would hold it), goes to the catcher: it is not
	// carried out late, with the catcher's work under way.
	"early": func() {
		Route(os.Stderr)
		routeMu.Lock()
		unix.Kill(unix.Getpid(), unix.SIGINT)
		time.Sleep(100 * time.Millisecond) // received, waiting on the lock
		c := make(chan os.Signal, 1)
		// Notify's registration, made while the lock is held.
		catchers[c] = append(catchers[c], unix.SIGINT)
		routeMu.Unlock()
		say(c)
	},
	// A SIGINT after Notify comes to the channel; after Stop, it ends the
	// process as Go's default does: killed by the signal, nothing said.
	"notify-stop": func() {
		Route(os.Stderr)
		c := make(chan os.Signal, 1)
		Notify(c, StopSignals...)
		unix.Kill(unix.Getpid(), unix.SIGINT)
		say(c)
		Stop(c)
		unix.Kill(unix.Getpid(), unix.SIGINT)
		time.Sleep(5 * time.Second)
		fmt.Println("alive after Stop")
	},
	// A signal received as its catcher stops (sent to this very thread, so
	// in Go's hands before Stop starts) goes to the catcher: it is not met
	// by no catcher in the dispatcher's queue, and carried out.
	"stop-keeps": func() {
		Route(os.Stderr)
		runtime.LockOSThread()
		for range 200 {
			c := make(chan os.Signal, 1)
			Notify(c, StopSignals...)
			unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGTERM)
			Stop(c)
			if len(c) != 1 {
				fmt.Println("lost")
			}
		}
		fmt.Println("alive")
	},
	// A signal in Go's hands (sent to this very thread) is on its
	// catcher's channel once Flush returns: a last look misses none, as
	// clean's at its end.
	"flush": func() {
		Route(os.Stderr)
		runtime.LockOSThread()
		c := make(chan os.Signal, 1)
		Notify(c, StopSignals...)
		for range 200 {
			unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGTERM)
			Flush()
			select {
			case <-c:
			default:
				fmt.Println("missed")
				<-c
			}
		}
		fmt.Println("alive")
	},
	// Started with SIGINT ignored (runHelperIgnoringINT): Notify leaves it
	// ignored, and catches SIGTERM.
	"ignored-at-start": func() {
		Route(os.Stderr)
		c := make(chan os.Signal, 1)
		Notify(c, StopSignals...)
		unix.Kill(unix.Getpid(), unix.SIGINT)
		time.Sleep(200 * time.Millisecond)
		if signal.Ignored(unix.SIGINT) && len(c) == 0 {
			fmt.Println("SIGINT still ignored")
		}
		unix.Kill(unix.Getpid(), unix.SIGTERM)
		say(c)
	},
	// SIGTERM with no catcher at all.
	"uncaught-term": func() {
		Route(os.Stderr)
		unix.Kill(unix.Getpid(), unix.SIGTERM)
		time.Sleep(5 * time.Second)
		fmt.Println("alive")
	},
	// SIGQUIT with no catcher: a sentence and 131, not Go's stack dump.
	"uncaught-quit": func() {
		Route(os.Stderr)
		unix.Kill(unix.Getpid(), unix.SIGQUIT)
		time.Sleep(5 * time.Second)
		fmt.Println("alive")
	},
}

func say(c chan os.Signal) {
	select {
	case s := <-c:
		fmt.Printf("caught %v\n", s)
	case <-time.After(5 * time.Second):
		fmt.Println("lost")
	}
}

type helperResult struct {
	stdout, stderr string
	code           int
	signal         unix.Signal // 0 unless killed by a signal
}

func runHelper(t *testing.T, name string) helperResult {
	t.Helper()
	return runHelperCmd(t, name, exec.Command(os.Args[0], "-test.run=^$"))
}

// runHelperIgnoringINT runs the helper with SIGINT ignored, as a shell
// starts a script's background job.
func runHelperIgnoringINT(t *testing.T, name string) helperResult {
	t.Helper()
	return runHelperCmd(t, name, exec.Command("/bin/sh", "-c", `trap '' INT; exec "$0" -test.run='^$'`, os.Args[0]))
}

func runHelperCmd(t *testing.T, name string, cmd *exec.Cmd) helperResult {
	t.Helper()
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := helperResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	default:
		t.Fatal(err)
	}
	return r
}

func TestSignalBeforeItsCatcherGoesToTheCatcher(t *testing.T) {
	r := runHelper(t, "early")
	if r.stdout != "caught interrupt\n" || r.code != 0 {
		t.Errorf("a SIGINT received before its catcher registered: exit %d (signal %v), stdout %q; want it caught", r.code, r.signal, r.stdout)
	}
}

func TestNotifyThenStop(t *testing.T) {
	r := runHelper(t, "notify-stop")
	if !strings.HasPrefix(r.stdout, "caught interrupt\n") {
		t.Errorf("a SIGINT after Notify: stdout %q, want it caught", r.stdout)
	}
	if r.signal != unix.SIGINT || strings.Contains(r.stdout, "alive") || r.stderr != "" {
		t.Errorf("a SIGINT after Stop: exit %d, signal %v, stdout %q, stderr %q; want killed by SIGINT, nothing said", r.code, r.signal, r.stdout, r.stderr)
	}
}

func TestStopHandsOnWhatCameBefore(t *testing.T) {
	if r := runHelper(t, "stop-keeps"); r.stdout != "alive\n" || r.code != 0 {
		t.Errorf("SIGTERM then Stop, 200 times: exit %d (signal %v), stdout %q; want every one caught", r.code, r.signal, r.stdout)
	}
}

func TestFlushHandsOnWhatCameBefore(t *testing.T) {
	if r := runHelper(t, "flush"); r.stdout != "alive\n" || r.code != 0 {
		t.Errorf("SIGTERM then Flush, 200 times: exit %d (signal %v), stdout %q; want every one on the channel after Flush", r.code, r.signal, r.stdout)
	}
}

func TestSignalIgnoredAtStartStaysIgnored(t *testing.T) {
	r := runHelperIgnoringINT(t, "ignored-at-start")
	if r.stdout != "SIGINT still ignored\ncaught terminated\n" || r.code != 0 {
		t.Errorf("started with SIGINT ignored, Notify for every stop signal, then SIGINT and SIGTERM: exit %d (signal %v), stdout %q, stderr %q; want SIGINT left ignored and SIGTERM caught", r.code, r.signal, r.stdout, r.stderr)
	}
}

func TestUncaughtStopSignals(t *testing.T) {
	if r := runHelper(t, "uncaught-term"); r.signal != unix.SIGTERM || r.stdout != "" || r.stderr != "" {
		t.Errorf("an uncaught SIGTERM: exit %d, signal %v, stdout %q, stderr %q; want killed by SIGTERM, nothing said", r.code, r.signal, r.stdout, r.stderr)
	}
	if r := runHelper(t, "uncaught-quit"); r.code != 131 || r.stderr != "workshop: quit (SIGQUIT)\n" || r.stdout != "" {
		t.Errorf("an uncaught SIGQUIT: exit %d, signal %v, stdout %q, stderr %q; want 131 and one sentence", r.code, r.signal, r.stdout, r.stderr)
	}
}

// A Go signal handler's mask is told from the others a Go program's threads
// have: none, and that of the runtime's thread that waits for signals
// (every signal blocked but those caught and SIGCHLD, SIGPROF and SIGURG),
// here for real in this process.
func TestInHandler(t *testing.T) {
	all := ^uint32(0) &^ (sigBit(unix.SIGKILL) | sigBit(unix.SIGSTOP))
	for _, tc := range []struct {
		mask uint32
		want bool
	}{
		{0, false},
		{all, true},
		{all &^ sigBit(unix.SIGINT), true}, // raising SIGINT again
		{all &^ sigBit(unix.SIGINT) &^ sigBit(unix.SIGURG), false},
	} {
		if got := inHandler(tc.mask); got != tc.want {
			t.Errorf("inHandler(%#x) = %v, want %v", tc.mask, got, tc.want)
		}
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, unix.SIGINT) // the runtime's thread that waits for signals exists
	defer signal.Stop(c)
	// A thread the runtime is starting blocks every signal for a moment:
	// at rest is once none does.
	n, err := threadsInHandler()
	for deadline := time.Now().Add(time.Second); err == nil && n != 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n, err = threadsInHandler()
	}
	if err != nil || n != 0 {
		t.Errorf("threadsInHandler() = %d, %v in a test at rest, want 0", n, err)
	}
	// The field read is the mask: the runtime's thread that waits for
	// signals has SIGINT unblocked (caught) and most others blocked.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	waiter := false
	for _, task := range tasks {
		m, err := blockedSignals("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		if m&sigBit(unix.SIGINT) == 0 && m&sigBit(unix.SIGUSR1) != 0 {
			waiter = true
		}
	}
	if !waiter {
		t.Errorf("no thread of this process blocks SIGUSR1 and not SIGINT: os/signal's waiting thread was not seen in the blocked fields")
	}
}

// settle waits while a thread has every signal blocked, as a Go handler
// ending the program has (here a thread of the test's, locked, that blocks
// them all for a while), and returns once it has none blocked; or at its
// limit, if it keeps them.
func TestSettleWaitsForAThreadInAHandler(t *testing.T) {
	blocked, release, restored := make(chan struct{}), make(chan struct{}), atomic.Bool{}
	go func() {
		runtime.LockOSThread() // ended with the goroutine, its mask with it
		var all, old unix.Sigset_t
		for i := range all.Val {
			all.Val[i] = ^uint64(0)
		}
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
			t.Error(err)
		}
		close(blocked)
		<-release
		restored.Store(true)
		unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}()
	<-blocked
	if n, err := threadsInHandler(); err != nil || n < 1 {
		t.Fatalf("threadsInHandler() = %d, %v with a thread blocking every signal, want 1 or more", n, err)
	}
	start := time.Now()
	settle(50 * time.Millisecond)
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("settle(50ms) returned after %v with a thread blocking every signal, want its limit", waited)
	}
	done := make(chan struct{})
	go func() {
		settle(time.Minute)
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	close(release)
	<-done
	if !restored.Load() {
		t.Error("settle returned while a thread still blocked every signal")
	}
}

// AwaitOwnStop returns at once for a signal that is no terminal's (a
// crash's SIGSEGV, SIGKILL), and false after its limit where no such
// signal came to this process: the child's was sent to it alone.
func TestAwaitOwnStopReturns(t *testing.T) {
	start := time.Now()
	if AwaitOwnStop(unix.SIGKILL, start, time.Hour) || AwaitOwnStop(unix.SIGSEGV, start, time.Hour) {
		t.Error("AwaitOwnStop(SIGKILL or SIGSEGV) = true")
	}
	if AwaitOwnStop(unix.SIGINT, start, 30*time.Millisecond) {
		t.Error("AwaitOwnStop(SIGINT) = true, with no SIGINT come")
	}
	if took := time.Since(start); took < 30*time.Millisecond || took > 10*time.Second {
		t.Errorf("AwaitOwnStop took %v, want its limit of 30ms (and no hour for SIGKILL)", took)
	}
}

// A command's name is any 15 bytes, ")" and spaces among them (a program
// named "a) b" is one prctl away): the fields after it are counted from
// the stat line's last ")". Counted from the first, every field would be
// one off, and the mask read would be the pending signals' (field 31), not
// the blocked ones' (field 32): settle would wait on, or pass, the wrong
// threads.
func TestBlockedSignalsNameWithAParenthesis(t *testing.T) {
	fields := []string{"S"} // field 3; then 4 to 52, each its number times 100
	for n := 4; n <= 52; n++ {
		fields = append(fields, fmt.Sprint(n*100))
	}
	for _, name := range []string{"a", "a) b", "x) (y) z", ") S 1 2 3"} {
		stat := filepath.Join(t.TempDir(), "stat")
		line := "1 (" + name + ") " + strings.Join(fields, " ") + "\n"
		if err := os.WriteFile(stat, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := blockedSignals(stat); err != nil || got != 3200 {
			t.Errorf("blockedSignals of %q = %d, %v; want 3200, field 32's", line, got, err)
		}
	}
}
