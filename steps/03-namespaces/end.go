package namespaces

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/units"
	"golang.org/x/sys/unix"
)

// The container's end: waiting for it, and what outlives its first process.

// awaitEnd waits until the first process has ended, without collecting it
// (waitid with WNOWAIT): until Wait collects it, its pid is still its own,
// a zombie's, and a kill that took endMu before this reaches it or
// nothing. From then on kills are skipped. (A wait, as os/exec's that
// follows it: neither is shown.)
func (c *Container) awaitEnd() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Pid(), &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break // ended, or (ECHILD) not ours to wait for: Wait says
		}
	}
	c.endMu.Lock()
	c.ended = true
	c.endMu.Unlock()
}

// Wait waits for the container to end, passing on the stop signals
// (exit.StopSignals) that workshop receives meanwhile, and returns its exit
// status: the command's own, or 128+n when it was killed by signal n. It
// releases the child if Release was not called.
func (c *Container) Wait() (int, error) {
	c.mu.Lock()
	if c.waited {
		c.mu.Unlock()
		return 0, errors.New("the container was already waited for")
	}
	c.waited = true
	c.mu.Unlock()

	c.child.Release() // Wait means go: a no-op if Release was called
	execed := c.child.AwaitExec(c.n)
	c.setUp = execed || c.child.HandedOver()
	waited := make(chan struct{})
	watched := make(chan watchCalls, 1)
	if c.tty >= 0 {
		go func() { watched <- c.watchTerminal(waited) }()
	}
	var readersWatched chan int
	if len(c.readers) > 0 {
		readersWatched = make(chan int, 1)
		go func() { readersWatched <- c.watchReaders(waited) }()
	}
	c.awaitEnd()
	if !c.pidNS && c.stopGrace == 0 {
		// Ended, not yet collected: its process group keeps its number
		// until then, so the kill below reaches no other group.
		if c.endStragglers() {
			c.stragglers.Done()
		} // else kept, for clean to kill them by
	}
	status, err := c.child.Wait()
	c.finishOutput()
	close(waited)
	if readersWatched != nil {
		if calls := <-readersWatched; calls > 0 {
			c.n.Note("… %s while it ran, one every tenth of a second, to see whether the reader of its %s had gone", units.Count(calls, "ppoll call", "ppoll calls"), strings.Join(c.readerNames, " and "))
		}
		if c.readerKilled && status == exit.SignalBase+int(unix.SIGKILL) {
			status = exit.SignalBase + int(unix.SIGPIPE)
		}
	}
	if c.tty >= 0 {
		calls := <-watched
		if calls.waitid > 0 {
			c.n.Note("… %d waitid(P_PID, %d, …, WSTOPPED|WNOWAIT|WNOHANG) calls while it ran, one every tenth of a second, to see a Ctrl-Z", calls.waitid, c.Pid())
		}
		if reads := c.pgrpReads.Load(); reads > 0 {
			c.n.Note("… %s while it ran, about one every tenth of a second, to see which process group had the terminal", units.Count(int(reads), fmt.Sprintf("ioctl(%d, TIOCGPGRP, […]) call", c.tty), fmt.Sprintf("ioctl(%d, TIOCGPGRP, […]) calls", c.tty)))
		}
		poll := fmt.Sprintf("ppoll([{fd=%d, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0)", c.tty)
		times := func(n int) string {
			if n == 1 {
				return "1 " + poll + " call"
			}
			return fmt.Sprintf("%d %s calls", n, poll)
		}
		switch {
		case c.hungUp && calls.ppoll+calls.last > 0:
			c.n.Note("… %s before the one that found the terminal hung up, one every tenth of a second", times(calls.ppoll+calls.last))
		case c.hungUp:
		case calls.ppoll > 0:
			c.n.Note("… %s while the container had the terminal, one every tenth of a second, and once it ended, to see it hang up (it did not)", times(calls.ppoll+calls.last))
		default:
			c.n.Note("… %s once the container ended, to see whether the terminal had hung up (it had not)", times(calls.last))
		}
	}
	if c.hangupKilled && err == nil && status == exit.SignalBase+int(unix.SIGKILL) {
		err = exit.Errorf(status, "the container had not ended %s after its terminal hung up: workshop killed it", hangupGrace)
	}
	c.stopSignals()
	c.takeTerminalBack()
	if ierr := c.child.Interrupted(execed, status); ierr != nil && err == nil {
		return exit.Status(ierr), ierr
	}
	return status, err
}

// endStragglers kills what the command left running (sh -c 'sleep 100 &',
// an interactive shell's background job), in a container with no PID
// namespace, whose end would have ended them, and no cgroup to kill them
// by: they would outlive the step, chrooted in its root, holding its mount
// namespace, and clean leaves a root in use. They are found in the
// command's process group, and, with a mount namespace, in that namespace
// (a shell's job has a group of its own; so has a setsid daemon). Called
// once the first process has ended, before it is collected.
func (c *Container) endStragglers() (none bool) {
	leader := c.Pid()
	// Found, killed, looked for again: a process found in the group may
	// leave it (setsid) before the group's kill, and is then found in the
	// mount namespace, to be killed by its pid.
	inKilledGroup, killedByPid := map[int]bool{}, map[int]bool{}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		inGroup, inNS := stragglers(leader, c.mntNS)
		if len(inGroup)+len(inNS) == 0 {
			return true
		}
		newInGroup := slices.ContainsFunc(inGroup, func(pid int) bool { return !inKilledGroup[pid] })
		inNS = slices.DeleteFunc(inNS, func(pid int) bool { return killedByPid[pid] })
		if !newInGroup && len(inNS) == 0 {
			continue // killed, not gone yet
		}
		if len(inKilledGroup)+len(killedByPid) == 0 {
			where := fmt.Sprintf("in its process group %d", leader)
			switch {
			case len(inGroup) == 0:
				where = "in its mount namespace"
			case len(inNS) > 0:
				where += " and its mount namespace"
			}
			them := "them"
			if len(inGroup)+len(inNS) == 1 {
				them = "it"
			}
			c.n.Note("%s the command started outlived it, %s: killing %s, as the end of a PID namespace's first process would have",
				units.Count(len(inGroup)+len(inNS), "process", "processes"), where, them)
		}
		if newInGroup {
			// The group's number is its ended leader's still: no
			// other group can have it.
			c.n.Kill(-leader, unix.SIGKILL)
			for _, pid := range inGroup {
				inKilledGroup[pid] = true
			}
		}
		for _, pid := range inNS {
			c.n.Kill(pid, unix.SIGKILL)
			killedByPid[pid] = true
		}
	}
	if g, ns := stragglers(leader, c.mntNS); len(g)+len(ns) > 0 {
		c.n.Note("%s the command left still there a second after the kill: 'workshop clean' kills them again, then removes the root; ps -o pid,stat,cmd -p %s shows them",
			units.Count(len(g)+len(ns), "process", "processes"), strings.Trim(strings.ReplaceAll(fmt.Sprint(append(g, ns...)), " ", ","), "[]"))
		return false
	}
	return true
}

// stragglers lists the living processes, other than leader, in leader's
// process group, and (mntNS not "") those in the mount namespace mntNS.
func stragglers(leader int, mntNS string) (inGroup, inNS []int) {
	all, _ := state.Pids()
	for _, pid := range all {
		if pid == leader {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp …: comm may hold spaces and ")".
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue // a zombie: dead already
		}
		if f[2] == strconv.Itoa(leader) {
			inGroup = append(inGroup, pid)
			continue
		}
		if mntNS != "" {
			if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && ns == mntNS {
				inNS = append(inNS, pid)
			}
		}
	}
	return inGroup, inNS
}
