package sys

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The filter DenyIoctls installs refuses the requests it is given and lets
// every other call through. It is installed on a thread of this test that
// ends with it (a filter cannot be taken away), beside a thread without
// it, which shows that the call would work: root may TIOCSTI into any
// terminal.
func TestDenyIoctls(t *testing.T) {
	if unix.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, and this test needs it")
		}
		t.Skip("TIOCSTI on a terminal that is not one's own needs root")
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	ptn, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := unix.Open("/dev/pts/"+strconv.Itoa(int(ptn)), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(slave)
	sti := func() error {
		c := byte('x')
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(slave), unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			return errno
		}
		return nil
	}
	if err := sti(); err != nil {
		t.Fatalf("TIOCSTI without the filter = %v: the test cannot show the filter's work", err)
	}
	type result struct {
		narration   string
		install, st error
		winsize     error
	}
	done := make(chan result)
	go func() {
		// Not unlocked: the thread ends with the goroutine, and its
		// filter with it.
		runtime.LockOSThread()
		var b strings.Builder
		r := result{install: New(&b, Options{}).DenyIoctls(unix.TIOCSTI, unix.TIOCLINUX)}
		r.narration = b.String()
		r.st = sti()
		_, r.winsize = unix.IoctlGetWinsize(slave, unix.TIOCGWINSZ)
		done <- r
	}()
	r := <-done
	if r.install != nil {
		t.Fatalf("DenyIoctls = %v", r.install)
	}
	if !errors.Is(r.st, unix.EPERM) {
		t.Errorf("TIOCSTI under the filter = %v, want EPERM", r.st)
	}
	if r.winsize != nil {
		t.Errorf("TIOCGWINSZ under the filter = %v, want it let through", r.winsize)
	}
	if !strings.Contains(r.narration, "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=") {
		t.Errorf("the filter's prctl is not narrated: %q", r.narration)
	}
}
