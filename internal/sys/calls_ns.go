package sys

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/state"

	"golang.org/x/sys/unix"
)

// The calls of step 3 (namespaces): becoming root inside a user namespace,
// making a namespace after the fact, the container's /dev, and the tiny init
// that reaps zombies as PID 1.

func init() {
	glosses["setresuid"] = "set the real, effective and saved user ids (root inside the user namespace)"
	glosses["setresgid"] = "set the real, effective and saved group ids"
	glosses["setgroups"] = "set the supplementary groups (none: drop the host's)"
	glosses["prctl"] = "change a property of this process"
	glosses["umask"] = "set the bits that new files' modes lose"
	glosses["ioctl"] = "a device-specific request, here to the terminal"
}

// Setresuid calls setresuid(2). Go makes it on every thread of the process,
// since credentials are per thread in Linux.
func (n *Narrator) Setresuid(r, e, s int) error {
	err := unix.Setresuid(r, e, s)
	n.record("setresuid", fmt.Sprintf("%d, %d, %d", r, e, s), 0, err)
	if err != nil {
		return fmt.Errorf("setresuid(%d, %d, %d): %w", r, e, s, err)
	}
	return nil
}

// Setresgid calls setresgid(2).
func (n *Narrator) Setresgid(r, e, s int) error {
	err := unix.Setresgid(r, e, s)
	n.record("setresgid", fmt.Sprintf("%d, %d, %d", r, e, s), 0, err)
	if err != nil {
		return fmt.Errorf("setresgid(%d, %d, %d): %w", r, e, s, err)
	}
	return nil
}

// Setgroups calls setgroups(2).
func (n *Narrator) Setgroups(gids []int) error {
	err := unix.Setgroups(gids)
	parts := make([]string, len(gids))
	for i, g := range gids {
		parts[i] = fmt.Sprint(g)
	}
	list := "[" + strings.Join(parts, ", ") + "]"
	if len(gids) == 0 {
		list = "NULL" // Go passes an empty list as NULL, as strace shows
	}
	n.record("setgroups", fmt.Sprintf("%d, %s", len(gids), list), 0, err)
	if err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	return nil
}

// Unshare calls unshare(2): this process moves into new namespaces.
func (n *Narrator) Unshare(flags uintptr) error {
	err := unix.Unshare(int(flags))
	n.record("unshare", CloneFlagString(flags), 0, err)
	if err != nil {
		return fmt.Errorf("unshare(%s): %w", CloneFlagString(flags), err)
	}
	return nil
}

// ClearAmbientCaps calls prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) on
// the calling thread (capabilities are per thread: lock it first).
func (n *Narrator) ClearAmbientCaps() error {
	err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	n.record("prctl", "PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0", 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	return nil
}

// ClearInheritableCaps empties the calling thread's inheritable capability
// set (capget, then capset with inheritable 0): Go's runtime filled it so
// that the ambient capabilities could carry workshop through its own
// execve, and a command should inherit no capability that way.
func (n *Narrator) ClearInheritableCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	err := unix.Capget(&hdr, &data[0])
	n.record("capget", "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {…}", 0, err)
	if err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	err = unix.Capset(&hdr, &data[0])
	n.record("capset", "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=…, permitted=…, inheritable=0}", 0, err)
	if err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// SetParentDeathSignal calls prctl(PR_SET_PDEATHSIG, sig) on the calling thread.
func (n *Narrator) SetParentDeathSignal(sig unix.Signal) error {
	err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0)
	n.record("prctl", "PR_SET_PDEATHSIG, "+SignalName(sig), 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	return nil
}

// ReadersGone polls the write end of a pipe without waiting and reports
// whether every read end is closed: the kernel then flags the writer with
// POLLERR, whatever events were asked for. Shown as strace shows it (Go's
// poll is ppoll with a zero timeout): ppoll([{fd=4, events=0}], 1,
// {tv_sec=0, tv_nsec=0}, NULL, 0) = 0 (Timeout), or = 1 ([{fd=4,
// revents=POLLERR}], left {tv_sec=0, tv_nsec=0}).
func (n *Narrator) ReadersGone(fd int) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd)}}
	var got int
	var err error
	for {
		got, err = unix.Ppoll(fds, &unix.Timespec{}, nil)
		n.line("ppoll", fmt.Sprintf("[{fd=%d, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0", fd), pollResult(got, err, fds))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("ppoll: %w", err)
	}
	return got > 0 && fds[0].Revents&unix.POLLERR != 0, nil
}

// TerminalHungUp polls the terminal on fd without waiting and reports
// whether it has hung up (its window closed, its ssh session dropped): the
// kernel then flags it with POLLHUP, whatever events were asked for. A
// watch that asks every tenth of a second would print a line each time:
// only the call that finds the hang-up is printed, as ReadersGone prints
// it; calls is how many were made (more than one when a signal interrupted
// one), for the watch to count the others in a note.
func (n *Narrator) TerminalHungUp(fd int) (hup bool, calls int, err error) {
	found, calls, err := n.pollNow([]int{fd}, unix.POLLHUP)
	return found >= 0, calls, err
}

// OutputReaderGone polls the container's outputs on fds, the write ends of
// pipes (or sockets, which ksh93 joins a pipeline with), without waiting,
// and reports the first whose reader has gone: a pipe's last read end
// closed (POLLERR), a socket's peer (POLLHUP). found is -1 for none. As
// TerminalHungUp, only the call that finds one is printed.
func (n *Narrator) OutputReaderGone(fds []int) (found, calls int, err error) {
	return n.pollNow(fds, unix.POLLERR|unix.POLLHUP)
}

// pollNow is ppoll of fds for no event, without waiting, until it is not
// interrupted by a signal: the first fd the kernel flagged with one of
// flagged (or -1), and the number of calls made. The call that finds one
// is printed.
func (n *Narrator) pollNow(fds []int, flagged int16) (found, calls int, err error) {
	pfds := make([]unix.PollFd, len(fds))
	args := make([]string, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd)}
		args[i] = fmt.Sprintf("{fd=%d, events=0}", fd)
	}
	for {
		var got int
		got, err = unix.Ppoll(pfds, &unix.Timespec{}, nil)
		calls++
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, calls, fmt.Errorf("ppoll: %w", err)
		}
		for _, f := range pfds {
			if got > 0 && f.Revents&flagged != 0 {
				n.line("ppoll", fmt.Sprintf("[%s], %d, {tv_sec=0, tv_nsec=0}, NULL, 0", strings.Join(args, ", "), len(fds)), pollResult(got, err, pfds))
				return int(f.Fd), calls, nil
			}
		}
		return -1, calls, nil
	}
}

// pollResult renders the result of a ppoll with a zero timeout as strace
// does, the time left (none) included.
func pollResult(got int, err error, fds []unix.PollFd) string {
	if err != nil || got == 0 {
		r := result(got, err)
		if err == nil {
			r += " (Timeout)"
		}
		return r
	}
	var ready []string
	for _, f := range fds {
		if f.Revents != 0 {
			ready = append(ready, fmt.Sprintf("{fd=%d, revents=%s}", f.Fd, pollEvents(f.Revents)))
		}
	}
	return fmt.Sprintf("= %d ([%s], left {tv_sec=0, tv_nsec=0})", got, strings.Join(ready, ", "))
}

func pollEvents(ev int16) string {
	var names []string
	for _, e := range []struct {
		bit  int16
		name string
	}{{unix.POLLIN, "POLLIN"}, {unix.POLLOUT, "POLLOUT"}, {unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLNVAL, "POLLNVAL"}} {
		if ev&e.bit != 0 {
			names = append(names, e.name)
		}
	}
	return strings.Join(names, "|")
}

// Umask calls umask(2) and returns the previous mask, printed in octal as
// strace does: umask(000) = 022.
func (n *Narrator) Umask(mask int) int {
	old := unix.Umask(mask)
	n.line("umask", fmt.Sprintf("%03o", mask), fmt.Sprintf("= %03o", old))
	return old
}

// CurrentUmask is this process's file mode creation mask, read without
// changing it (umask(2) can only set it): from /proc/self/status, 022 if
// unknown. Reading a file is not a call the lessons are about: not shown.
func CurrentUmask() uint32 {
	if v, ok := state.StatusField(0, "Umask"); ok {
		if m, err := strconv.ParseUint(v, 8, 32); err == nil {
			return uint32(m)
		}
	}
	return 0o022
}

// CreateFile creates an empty file (failing if it exists), as touch would,
// shown as the two calls it is: openat with O_CREAT|O_EXCL, and close.
func (n *Narrator) CreateFile(path string, mode uint32) error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, mode)
	n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags)+", "+modeString(mode), fd, err)
	if err != nil {
		return wrap("create", path, err)
	}
	cerr := unix.Close(fd)
	n.record("close", fmt.Sprint(fd), 0, cerr)
	return wrap("close", path, cerr)
}

// Wait4 calls wait4(pid, &status, options, NULL) and prints the status the
// way strace decodes it.
func (n *Narrator) Wait4(pid int, options int) (int, unix.WaitStatus, error) {
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(pid, &ws, options, nil)
	status := "[" + WaitStatusString(ws) + "]"
	if err != nil || wpid == 0 {
		status = "NULL" // nothing was written (strace shows the pointer)
	}
	// WUNTRACED by strace's name for the same bit, WSTOPPED.
	opts := flagString(uintptr(options), []flagName{{unix.WNOHANG, "WNOHANG"}, {unix.WSTOPPED, "WSTOPPED"}})
	n.record("wait4", fmt.Sprintf("%d, %s, %s, NULL", pid, status, opts), wpid, err)
	if err != nil {
		return wpid, ws, fmt.Errorf("wait4(%d): %w", pid, err)
	}
	return wpid, ws, nil
}

// WaitStatusString decodes a wait status as strace prints it:
// {WIFEXITED(s) && WEXITSTATUS(s) == 0} or {WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}.
func WaitStatusString(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("{WIFEXITED(s) && WEXITSTATUS(s) == %d}", ws.ExitStatus())
	case ws.Signaled():
		core := ""
		if ws.CoreDump() {
			core = " && WCOREDUMP(s)"
		}
		return fmt.Sprintf("{WIFSIGNALED(s) && WTERMSIG(s) == %s%s}", SignalName(ws.Signal()), core)
	case ws.Stopped():
		return fmt.Sprintf("{WIFSTOPPED(s) && WSTOPSIG(s) == %s}", SignalName(ws.StopSignal()))
	}
	return fmt.Sprintf("%#x", uint32(ws))
}

// SetForegroundGroup calls ioctl(fd, TIOCSPGRP, &pgrp): the terminal on fd
// now sends its keyboard signals (Ctrl-C…) to process group pgrp.
func (n *Narrator) SetForegroundGroup(fd, pgrp int) error {
	err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgrp)
	n.orBecause("TIOCSPGRP: which process group the terminal belongs to, its keys' signals (Ctrl-C) and its input going to it").record("ioctl", fmt.Sprintf("%d, TIOCSPGRP, [%d]", fd, pgrp), 0, err)
	if err != nil {
		return fmt.Errorf("ioctl(TIOCSPGRP): %w", err)
	}
	return nil
}

// ForegroundGroup reads the terminal's foreground process group (ioctl
// TIOCGPGRP).
func (n *Narrator) ForegroundGroup(fd int) (int, error) {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	n.orBecause("TIOCGPGRP: which process group the terminal belongs to").record("ioctl", fmt.Sprintf("%d, TIOCGPGRP, [%d]", fd, pgrp), 0, err)
	if err != nil {
		return 0, fmt.Errorf("ioctl(TIOCGPGRP): %w", err)
	}
	return pgrp, nil
}

// TerminalSettings reads the terminal's settings (ioctl TCGETS), to put
// them back with RestoreTerminalSettings.
func (n *Narrator) TerminalSettings(fd int) (*unix.Termios, error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	n.orBecause("TCGETS: read the terminal's settings (echo, line editing, its special keys)").record("ioctl", fmt.Sprintf("%d, TCGETS, {…}", fd), 0, err)
	if err != nil {
		return nil, fmt.Errorf("ioctl(TCGETS): %w", err)
	}
	return t, nil
}

// RestoreTerminalSettings puts back settings TerminalSettings read (ioctl
// TCSETSW: once what was written has gone out).
func (n *Narrator) RestoreTerminalSettings(fd int, t *unix.Termios) error {
	err := unix.IoctlSetTermios(fd, unix.TCSETSW, t)
	n.orBecause("TCSETSW: put back the terminal's settings read by TCGETS, once what was written to it has gone out").record("ioctl", fmt.Sprintf("%d, TCSETSW, {…}", fd), 0, err)
	if err != nil {
		return fmt.Errorf("ioctl(TCSETSW): %w", err)
	}
	return nil
}

// SetChildSubreaper calls prctl(PR_SET_CHILD_SUBREAPER, 1): orphans among
// this process's descendants become its children, as they would PID 1's.
func (n *Narrator) SetChildSubreaper() error {
	err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	n.record("prctl", "PR_SET_CHILD_SUBREAPER, 1", 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}
