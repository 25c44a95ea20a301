package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The memory group counts its OOM kills (oom_kill), but not whom they
// killed. A container whose first process died of SIGKILL after the OOM
// killer took another of its processes (a sort in a shell that went on)
// may have been killed from outside. The kernel's log names every victim
// by its pid, with the time: that tells the two apart.

// kmsgPath is the kernel's log, one record per read: root may read it.
const kmsgPath = "/dev/kmsg"

// monotonicNow is CLOCK_MONOTONIC, the clock of the kernel log's times (in
// microseconds since boot).
func monotonicNow() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// oomKilledInLog reads the kernel's log for an OOM kill of pid (a host
// pid) logged after since. known is false where the log cannot be read
// (some machines refuse /dev/kmsg even to root).
func oomKilledInLog(n *sys.Narrator, pid int, since time.Duration) (killed, known bool) {
	fd, err := n.Because("the kernel's log names each process the OOM killer ends: was it the container's first one?").
		Openat(kmsgPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer n.CloseFd(fd)
	buf := make([]byte, 16<<10)
	reads := 0
	for {
		k, err := unix.Read(fd, buf)
		reads++
		if errors.Is(err, unix.EPIPE) {
			continue // a record overwritten while we read: the next one
		}
		if errors.Is(err, unix.EAGAIN) {
			n.Note("… %d read calls on fd %d, one per record of the kernel's log; the last one, EAGAIN, is its end", reads, fd)
			return killed, true
		}
		if err != nil || k <= 0 {
			n.Note("… %d read calls on fd %d, one per record of the kernel's log; the last one failed (%v): the log is not known whole", reads, fd, err)
			return false, false
		}
		if logged, ok := oomKillOf(buf[:k], pid); ok && logged >= since-time.Second {
			killed = true
		}
	}
}

// oomKillOf reads one record of /dev/kmsg ("PRIO,SEQ,USEC,FLAGS;TEXT") and
// returns its time if its text is an OOM kill of pid ("Killed process PID
// (NAME)", as the memory cgroup's and the global OOM killer write it).
func oomKillOf(record []byte, pid int) (time.Duration, bool) {
	head, text, ok := bytes.Cut(record, []byte(";"))
	if !ok || !bytes.Contains(text, []byte(fmt.Sprintf("Killed process %d (", pid))) {
		return 0, false
	}
	fields := bytes.Split(head, []byte(","))
	if len(fields) < 3 {
		return 0, false
	}
	usec, err := strconv.ParseInt(string(fields[2]), 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond, true
}
