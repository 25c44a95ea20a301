package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

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
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
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
