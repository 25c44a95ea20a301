package testbin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Lines collects a stream line by line and lets a test wait for a line.
type Lines struct {
	mu   sync.Mutex
	all  []string
	more chan struct{} // closed and replaced at every new line
	eof  bool
}

// NewLines starts collecting r.
func NewLines(r io.Reader) *Lines {
	l := &Lines{more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.eof = true
		close(l.more)
		l.mu.Unlock()
		// A line too long for the scanner stops it: what follows is
		// read and dropped, so that the writer is never held (a
		// terminal's Screen, a program writing to its pipe).
		io.Copy(io.Discard, r)
	}()
	return l
}

// String is every line so far, each ended by a newline.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return ""
	}
	return strings.Join(l.all, "\n") + "\n"
}

// WaitFor waits until a line containing s arrives and returns it. The
// deadline only keeps a broken run from hanging the suite.
func (l *Lines) WaitFor(t testing.TB, s string) string {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for i := 0; ; {
		l.mu.Lock()
		for ; i < len(l.all); i++ {
			if strings.Contains(l.all[i], s) {
				line := l.all[i]
				l.mu.Unlock()
				return line
			}
		}
		more, eof := l.more, l.eof
		l.mu.Unlock()
		if eof {
			t.Fatalf("the stream ended without a line containing %q:\n%s", s, l.String())
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no line containing %q after 2 minutes:\n%s", s, l.String())
		}
	}
}

// Ended says whether the stream has ended (for a program's stdout or
// stderr: it has exited, or closed it).
func (l *Lines) Ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eof
}

// WaitEOF waits until the stream has ended, at most limit; it reports
// whether it has.
func (l *Lines) WaitEOF(limit time.Duration) bool {
	deadline := time.After(limit)
	l.mu.Lock()
	for !l.eof {
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			return false
		}
		l.mu.Lock()
	}
	l.mu.Unlock()
	return true
}

// outlivedGrace is how long a program's stdout and stderr may stay open
// after it ended: only a process it left behind still holds them then.
var outlivedGrace = 30 * time.Second

// Running is a program a test started and watches while it runs.
type Running struct {
	T      testing.TB
	Cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Stdout *Lines
	Stderr *Lines // for workshop, the narration
}

// Start starts a program in dir and returns it running; the test's end
// kills it if it still runs. Start(t, "", Bin(t), args…) starts workshop.
func Start(t testing.TB, dir, name string, args ...string) *Running {
	t.Helper()
	return StartWithStdin(t, dir, nil, name, args...)
}

// StartWithStdin is Start with the program's stdin given (a pipe's end, a
// terminal); nil is a pipe the test writes to through Running.Stdin.
func StartWithStdin(t testing.TB, dir string, in *os.File, name string, args ...string) *Running {
	t.Helper()
	return start(t, dir, in, nil, name, args...)
}

// StartWithAttr is Start with the program's process attributes given: a
// process group or a session of its own.
func StartWithAttr(t testing.TB, attr *syscall.SysProcAttr, name string, args ...string) *Running {
	t.Helper()
	return start(t, "", nil, attr, name, args...)
}

func start(t testing.TB, dir string, in *os.File, attr *syscall.SysProcAttr, name string, args ...string) *Running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = attr
	var stdin io.WriteCloser = nopCloser{}
	if in != nil {
		cmd.Stdin = in
	} else {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &Running{T: t, Cmd: cmd, Stdin: stdin, Stdout: NewLines(stdout), Stderr: NewLines(stderr)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		cancel()
	})
	return r
}

// nopCloser stands for the stdin pipe of a program given its own stdin.
type nopCloser struct{}

func (nopCloser) Write(p []byte) (int, error) {
	return 0, errors.New("the program was given its own stdin")
}
func (nopCloser) Close() error { return nil }

// Signal sends sig to the program.
func (r *Running) Signal(sig syscall.Signal) {
	r.T.Helper()
	if err := r.Cmd.Process.Signal(sig); err != nil {
		r.T.Fatalf("signal %s: %v", r.Cmd.Path, err)
	}
}

// Wait closes stdin, waits for the program to end and returns what it did.
func (r *Running) Wait() Result {
	r.T.Helper()
	r.Stdin.Close()
	// The program's end, without reaping it (Cmd.Wait does, and closes the
	// pipes); then both streams are read to their end. One still open
	// outlivedGrace later is held by a process the program left running:
	// said, instead of waiting for that process for ever.
	var info unix.Siginfo
	for unix.Waitid(unix.P_PID, r.Cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
	}
	for _, l := range []*Lines{r.Stdout, r.Stderr} {
		if !l.WaitEOF(outlivedGrace) {
			r.T.Errorf("%s ended, but %s later a process it left running still holds its stdout or stderr", r.Cmd.Path, outlivedGrace)
			break
		}
	}
	err := r.Cmd.Wait()
	code := 0
	var sig syscall.Signal
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
		}
	} else if err != nil {
		r.T.Fatalf("wait for %s: %v", r.Cmd.Path, err)
	}
	return Result{Stdout: r.Stdout.String(), Stderr: r.Stderr.String(), Code: code, Signal: sig}
}
