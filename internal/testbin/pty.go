package testbin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// OpenPty opens a pseudo-terminal: its master, closed at the test's end, and
// its slave, to give a program as its terminal. Neither becomes this
// process's controlling terminal.
func OpenPty(t testing.TB) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	// Through its raw descriptor, not Fd(), which would put the master in
	// blocking mode: a read waiting in read(2) then holds it open, and
	// Close, which a test uses to hang the terminal up, would not close it.
	conn, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	if cerr := conn.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err != nil {
			err = fmt.Errorf("unlock the pty: %w", err)
			return
		}
		if n, err = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN); err != nil {
			err = fmt.Errorf("pty number: %w", err)
		}
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty: %v", err)
	}
	return master, slave
}

// OnTerminal is a program started by StartOnTerminal.
type OnTerminal struct {
	Cmd    *exec.Cmd
	Master *os.File // the terminal's other end: what is typed goes here
	Out    *Lines   // what the program wrote on the terminal, line by line
	// Screen is the same, as it arrives: a shell's prompt, which no
	// newline ends, is there as soon as it is written.
	Screen *Screen
	Done   <-chan error
}

// StartOnTerminal starts name args… in a session of its own whose
// controlling terminal is a new pseudo-terminal, which is its stdin,
// stdout and stderr: the way a login shell runs. The test's end kills it
// if it still runs.
func StartOnTerminal(t testing.TB, name string, args ...string) *OnTerminal {
	t.Helper()
	master, slave := OpenPty(t)
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	screen := &Screen{more: make(chan struct{})}
	lines, feed := io.Pipe()
	out := NewLines(lines)
	go screen.collect(master, feed)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return &OnTerminal{Cmd: cmd, Master: master, Out: out, Screen: screen, Done: done}
}

// End waits, at most limit, for the program to end, then for what it wrote
// to come off the terminal, and returns its exit status (-1 when a signal
// ended it, as exec.ExitError says); the test fails if it still runs, if
// it could not be waited for, or
// if something still holds the terminal 10 s later (its output would be
// cut short).
func (o *OnTerminal) End(t testing.TB, limit time.Duration) int {
	t.Helper()
	code := 0
	select {
	case err := <-o.Done:
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatalf("%s on a terminal: %v", o.Cmd, err)
		}
	case <-time.After(limit):
		t.Fatalf("%s still ran %v later:\n%s", o.Cmd, limit, o.Screen)
	}
	if !o.Out.WaitEOF(10 * time.Second) {
		t.Fatalf("%s ended, but something still held its terminal 10 s later:\n%s", o.Cmd, o.Screen)
	}
	return code
}

// Screen collects what a program writes on a terminal, byte by byte.
type Screen struct {
	mu   sync.Mutex
	buf  []byte
	more chan struct{} // closed and replaced at every read
	eof  bool
}

// collect reads the terminal's master until it fails (EIO once no process
// holds the terminal), keeping what it reads and passing it on to lines.
func (s *Screen) collect(master io.Reader, lines *io.PipeWriter) {
	b := make([]byte, 4096)
	for {
		n, err := master.Read(b)
		s.mu.Lock()
		s.buf = append(s.buf, b[:n]...)
		if err != nil {
			s.eof = true
		}
		close(s.more)
		s.more = make(chan struct{})
		s.mu.Unlock()
		if n > 0 {
			lines.Write(b[:n])
		}
		if err != nil {
			lines.Close()
			return
		}
	}
}

// String is everything written so far.
func (s *Screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}

// WaitMatch waits until what was written from byte from on matches re and
// returns where the match ends. The deadline only keeps a broken run from
// hanging the suite.
func (s *Screen) WaitMatch(t testing.TB, re *regexp.Regexp, from int) int {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		s.mu.Lock()
		var loc []int
		if from <= len(s.buf) {
			loc = re.FindIndex(s.buf[from:])
		}
		more, eof, all := s.more, s.eof, string(s.buf)
		s.mu.Unlock()
		if loc != nil {
			return from + loc[1]
		}
		if eof {
			t.Fatalf("the terminal was let go of without %q after byte %d:\n%s", re, from, all)
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no %q on the terminal after 2 minutes:\n%s", re, all)
		}
	}
}

// FileHolds waits up to d for the file at path (a narration written by a
// program on a terminal, 2>FILE) to hold s, and returns what it holds; the
// test fails if it never does.
func FileHolds(t testing.TB, path, s string, d time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), s) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q in %v:\n%s", path, s, d, b)
		}
	}
}
