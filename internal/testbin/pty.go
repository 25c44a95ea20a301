package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
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
	Out    *Lines   // what the program wrote on the terminal
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
	out := NewLines(master)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return &OnTerminal{Cmd: cmd, Master: master, Out: out, Done: done}
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
