package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/workshop-dev/workshop/internal/state"
)

func init() { checkers[3] = checkStep3 }

// Step 3's exercise: start a shell with
//
//	unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root bash
//
// and leave it running. The check finds it through /proc: a process whose
// root (/proc/PID/root) is my-new-root, in mount, PID, UTS, IPC, network
// and user namespaces of its own, as that command makes.
func checkStep3(o Options) (*Report, error) {
	r := &Report{Solution: `  (in a second terminal, from the directory that holds my-new-root, after step 2's exercise)
  sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash
  (leave that shell open, and run the check from the first terminal)`}
	root, ok := r.dir(o, "my-new-root", "step 2's exercise makes it: the root needs bash and its libraries")
	if !ok {
		return r, nil
	}
	procs, err := processesRootedAt(root)
	if err != nil {
		return nil, err
	}
	if len(procs) == 0 {
		r.missing("in another terminal, from the directory that holds my-new-root, start a shell with sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash and leave it running; then check again",
			"no running process has my-new-root as its root")
		return r, nil
	}
	// The shell the exercise starts is the first process of its tree in
	// the root: its parent (unshare, or the student's shell) is outside.
	// Its children are not judged: without --fork, the shell stays in the
	// host's PID namespace and only its children are in the new one.
	// The one with the most namespaces of its own is judged: an earlier
	// try (no --user), left open, must not hide a later, right one. Of
	// two as good, the later started.
	var best int
	bestScore := -1
	tops, byWorkshop := startedByHand(topmost(procs))
	if len(tops) == 0 {
		r.missing("start the shell yourself, as the walkthrough does: sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root /bin/bash",
			"process %d runs with my-new-root as its root, but a workshop command started it, not unshare", byWorkshop[0])
		return r, nil
	}
	for _, pid := range tops {
		score := 0
		for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "user"} {
			if differs(pid, ns) {
				score++
			}
		}
		if score > bestScore || score == bestScore && state.StartTime(pid) > state.StartTime(best) {
			best, bestScore = pid, score
		}
	}
	if len(tops) > 1 {
		r.ok("process %d runs with my-new-root as its root (of %d shells there, the one with the most namespaces of its own)", best, len(tops))
	} else {
		r.ok("process %d runs with my-new-root as its root", best)
	}
	if !differs(best, "mnt") {
		r.missing("chroot alone changes only the root: unshare --mount gives the shell a mount namespace of its own",
			"process %d shares the host's mount namespace", best)
	} else {
		r.ok("process %d has its own mount namespace (%s)", best, nsLink(best, "mnt"))
	}
	if !differs(best, "pid") {
		hint := "unshare --pid --fork gives the shell a PID namespace of its own"
		if nsLink(best, "pid_for_children") != nsLink(best, "pid") {
			// unshare --pid without --fork: the namespace is made, for
			// children only (and until the first child, the link cannot
			// be read: the kernel's pidns_for_children_get finds no
			// init in it yet).
			hint = "unshare --pid needs --fork too: the new PID namespace is for unshare's children, not for unshare itself"
		}
		r.missing(hint, "process %d shares the host's PID namespace", best)
	} else {
		r.ok("process %d has its own PID namespace (%s): inside, it is PID %s", best, nsLink(best, "pid"), nsPid(best))
	}
	// The exercise's command asks for these too: each missing one is said,
	// with the flag that makes it.
	for _, ns := range []struct{ name, flag, gives string }{
		{"uts", "--uts", "a hostname of its own"},
		{"ipc", "--ipc", "System V IPC and POSIX message queues of its own"},
		{"net", "--net", "a network of its own (only a loopback, down)"},
		{"user", "--user --map-root-user", "root inside, mapped to you outside"},
	} {
		if differs(best, ns.name) {
			r.ok("and its own %s namespace", ns.name)
		} else {
			r.missing(fmt.Sprintf("unshare %s gives the shell %s", ns.flag, ns.gives),
				"process %d shares the host's %s namespace", best, ns.name)
		}
	}
	return r, nil
}

// processesRootedAt lists the pids whose root directory is root, as the
// host sees it through /proc/PID/root.
func processesRootedAt(root string) ([]int, error) {
	want, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	all, err := state.Pids()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range all {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		if err == nil && link == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// startedByHand splits pids into those a student's command started and
// those workshop did: a workshop step's container, whose first process is
// workshop's init (with --init), or the command workshop's init became,
// whose parent is workshop.
func startedByHand(pids []int) (byHand, byWorkshop []int) {
	for _, pid := range pids {
		if isWorkshop(pid) || isWorkshop(state.ParentPid(pid)) {
			byWorkshop = append(byWorkshop, pid)
		} else {
			byHand = append(byHand, pid)
		}
	}
	return byHand, byWorkshop
}

// isWorkshop reports whether pid runs workshop: this very binary, or one
// named workshop (another build of it). Not this process itself: a shell
// it started (a test's, as `sh -c 'unshare … chroot …'` whose sh and
// unshare exec'd) is the student's.
func isWorkshop(pid int) bool {
	if pid <= 0 || pid == os.Getpid() {
		return false
	}
	if state.RunsThisProgram(pid) {
		return true
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(comm)) == "workshop"
}

// topmost returns those of procs whose parent is not one of procs: the
// first process of each tree of them.
func topmost(procs []int) []int {
	in := map[int]bool{}
	for _, pid := range procs {
		in[pid] = true
	}
	var top []int
	for _, pid := range procs {
		if !in[state.ParentPid(pid)] {
			top = append(top, pid)
		}
	}
	return top
}

func nsLink(pid int, ns string) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	return l
}

// differs reports whether process pid is in another namespace of kind ns
// than the checker itself.
func differs(pid int, ns string) bool {
	theirs, mine := nsLink(pid, ns), nsLink(os.Getpid(), ns)
	return theirs != "" && mine != "" && theirs != mine
}

// nsPid is the pid the process has inside its innermost PID namespace
// (the last NSpid field of /proc/PID/status).
func nsPid(pid int) string {
	if v, ok := state.StatusField(pid, "NSpid"); ok {
		if f := strings.Fields(v); len(f) > 0 {
			return f[len(f)-1]
		}
	}
	return "?"
}
