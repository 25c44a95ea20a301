package cgroups

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
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

// oomVictims reads the kernel's log for the OOM kills in the container's
// group id logged after since, and returns the (host) pids they ended.
// known is false where the log cannot be read whole (some machines refuse
// /dev/kmsg even to root). A kill whose record the log no longer holds (a
// small ring, much logged since) is missing from the list: so an empty
// list proves nothing.
func oomVictims(n *sys.Narrator, id string, since time.Duration) (pids []int, known bool) {
	fd, err := n.Because("the kernel's log names each process the OOM killer ends: was it the container's first one?").
		Openat(kmsgPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
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
			return pids, true
		}
		if err != nil || k <= 0 {
			n.Note("… %d read calls on fd %d, one per record of the kernel's log; the last one failed (%v): the log is not known whole", reads, fd, err)
			return nil, false
		}
		if pid, logged, ok := oomKillIn(buf[:k], id); ok && logged >= since-time.Second {
			pids = append(pids, pid)
		}
	}
}

// oomKillIn reads one record of /dev/kmsg ("PRIO,SEQ,USEC,FLAGS;TEXT") and
// returns the pid and the time of an OOM kill in the group id, from the
// line the OOM killer writes for each kill since Linux 4.19:
// "oom-kill:constraint=…,task_memcg=/workshop/ID,task=bash,pid=4242,uid=0".
func oomKillIn(record []byte, id string) (pid int, at time.Duration, ok bool) {
	head, text, found := bytes.Cut(record, []byte(";"))
	if !found || !bytes.HasPrefix(text, []byte("oom-kill:")) {
		return 0, 0, false
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimSpace(string(text[len("oom-kill:"):])), ",") {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = v
		}
	}
	if !strings.HasSuffix(fields["task_memcg"], "/"+id) {
		return 0, 0, false
	}
	pid, err := strconv.Atoi(fields["pid"])
	if err != nil {
		return 0, 0, false
	}
	hf := bytes.Split(head, []byte(","))
	if len(hf) < 3 {
		return 0, 0, false
	}
	usec, err := strconv.ParseInt(string(hf[2]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return pid, time.Duration(usec) * time.Microsecond, true
}
