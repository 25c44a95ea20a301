package stracecheck

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/sys"
)

// Check proves that every narrated line happened; CheckNothingHidden proves
// the other half of the narrator's contract: that no call the lessons are
// about happened without its line. Those calls are the ones that change
// what a container is, as strace records them from a workshop process
// (before it has exec'd the student's command, whose own calls are its
// business):
//
//	mount, umount2, chroot, pivot_root, sethostname, setns, unshare, kill,
//	pidfd_send_signal (but Go's probe's, of signal 0);
//	mkdirat and unlinkat under /sys/fs/cgroup (making, removing a cgroup);
//	mknodat of a device by its path (the init's /dev; an unpack's,
//	relative to a directory, and a copy's FIFOs are counted in their
//	summaries);
//	openat for writing under /sys/fs/cgroup, or of /proc/PID/uid_map,
//	gid_map and setgroups (every limit, every cgroup.procs or tasks write,
//	every id map).
//
// Each such record must be matched by a narrated line of the same name, the
// same first string argument and the same success or errno; lines and
// records are matched as multisets, since a child in a PID namespace names
// itself by another pid than strace does.
//
// Every new process a workshop process makes (a clone without CLONE_THREAD)
// must be accounted for too: by a narrated clone line; for the clone of Go's
// pidfd probe (CLONE_VM|CLONE_PIDFD|CLONE_VFORK, no exit signal), by the
// note sys.Narrator.BeforeFirstChild prints; for the loader runs of u-root's
// ldd, which workshop does not make itself, by step 2's note of how many
// there were.
//
// A cgroup's kill of many processes prints its first few kill calls and
// counts the rest in a note ("… and N more kill(PID, SIGKILL) calls …, M of
// them = -1 ESRCH"): exactly that many unprinted SIGKILLs, with those
// results, must be in the record, no more and no fewer.
//
// A process is a workshop process when workshop made it: the first one, and
// any a workshop process made before its own execve of another program. The
// processes the container's command forks (a fork bomb's subshells) are the
// command's business, as its calls are.
func CheckNothingHidden(narration, straceLog string) error {
	records, root := ParseStrace(straceLog)
	if root == 0 {
		return fmt.Errorf("the strace log is empty")
	}
	narrated := map[string]int{}
	for _, l := range ParseNarration(narration) {
		narrated[key(l.Call)]++
	}
	probes, loaderRuns := childNotes(narration)
	counted := countedKills(narration)
	procs := groupByProcess(records)
	for _, p := range workshopProcesses(procs, root) {
		for _, r := range workshopPhase(procs[p]) {
			if makesProcess(r) {
				switch {
				case pidfdProbe(r):
					if probes == 0 {
						return fmt.Errorf("strace saw Go's pidfd probe %q in a workshop process, and the narration has no note of it", r.Line)
					}
					probes--
				case narrated[key(r.Call)] > 0:
					narrated[key(r.Call)]--
				case loaderRuns > 0:
					loaderRuns--
				default:
					return fmt.Errorf("strace saw %q make a process in a workshop process, and the narration has no line or note for it", r.Line)
				}
				continue
			}
			if !lessonCall(r) {
				continue
			}
			k := key(r.Call)
			switch {
			case narrated[k] > 0:
				narrated[k]--
			case r.Name == "kill" && strings.Contains(r.Line, ", SIGKILL)") && counted[r.Errno] > 0:
				counted[r.Errno]--
			default:
				return fmt.Errorf("strace saw %q in a workshop process, and the narration has no line for it", r.Line)
			}
		}
	}
	for errno, n := range counted {
		if n > 0 {
			return fmt.Errorf("the narration counts %d more unprinted kill(PID, SIGKILL) calls %s than strace saw", n, resultName(errno))
		}
	}
	return nil
}

// resultName names a call's result for a message: "= 0" or "= -1 ESRCH".
func resultName(errno string) string {
	if errno == "" {
		return "= 0"
	}
	return "= -1 " + errno
}

var countedKillsRe = regexp.MustCompile(`^… and (\d+) more kill\(PID, SIGKILL\) calls?, .*?(?:\((\d+) of them = -1 ESRCH\b.*)?$`)

// countedKills adds up, by result ("" for success, "ESRCH"), the kill calls
// the narration's notes count instead of printing.
func countedKills(narration string) map[string]int {
	counted := map[string]int{}
	for _, note := range notes(narration) {
		m := countedKillsRe.FindStringSubmatch(note)
		if m == nil {
			continue
		}
		all, _ := strconv.Atoi(m[1])
		gone, _ := strconv.Atoi(m[2])
		counted[""] += all - gone
		counted["ESRCH"] += gone
	}
	return counted
}

// workshopProcesses lists, from the first one, the processes workshop made:
// root, and each process whose clone a workshop process made in its
// workshop phase. A process whose making strace did not show is counted as
// workshop's, which checks more, never less.
func workshopProcesses(procs map[int][]Record, root int) []int {
	type birth struct{ parent, at int }
	born := map[int]birth{}
	for p, recs := range procs {
		for i, r := range recs {
			if makesProcess(r) {
				born[int(r.Ret)] = birth{p, i}
			}
		}
	}
	phaseEnd := map[int]int{}
	for p, recs := range procs {
		phaseEnd[p] = len(workshopPhase(recs))
	}
	var isWorkshop func(p, depth int) bool
	isWorkshop = func(p, depth int) bool {
		b, ok := born[p]
		if p == root || !ok || depth > 10000 {
			return true
		}
		return b.at < phaseEnd[b.parent] && isWorkshop(b.parent, depth+1)
	}
	var ps []int
	for p := range procs {
		if isWorkshop(p, 0) {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// makesProcess says whether a record made a new process: a clone without
// CLONE_THREAD, a fork or a vfork, that succeeded, as the parent sees it
// (the child's pid). A child's own view of the call, should strace show
// it, returns 0 and made nothing.
func makesProcess(r Record) bool {
	switch r.Name {
	case "clone", "clone3", "fork", "vfork":
		return r.Errno == "" && r.Ret > 0 && !slices.Contains(r.Flags, "CLONE_THREAD")
	}
	return false
}

// pidfdProbe says whether a clone is the one Go's os package makes to check
// CLONE_PIDFD: a plain clone (syscall.doCheckClonePidfd; never clone3, whose
// exit signal strace shows apart from its flags) of a vfork-like child with
// no exit signal, which exits at once.
func pidfdProbe(r Record) bool {
	has := func(f string) bool { return slices.Contains(r.Flags, f) }
	return r.Name == "clone" && has("CLONE_VM") && has("CLONE_VFORK") && has("CLONE_PIDFD") && !has("SIGCHLD")
}

var loaderRunsRe = regexp.MustCompile(`^ldd ran the loader in (?:a child process|(\d+) child processes)`)

// childNotes counts, in a narration's notes, those of Go's pidfd probe and
// the children in which u-root's ldd ran the loader.
func childNotes(narration string) (probes, loaderRuns int) {
	for _, note := range notes(narration) {
		if strings.Contains(note, sys.PidfdProbe) {
			probes++
		} else if m := loaderRunsRe.FindStringSubmatch(note); m != nil {
			n := 1
			if m[1] != "" {
				n, _ = strconv.Atoi(m[1])
			}
			loaderRuns += n
		}
	}
	return probes, loaderRuns
}

// notes returns the narration's notes ("==> " lines, without it), but those
// of a lesson printed under --explain.
func notes(narration string) []string {
	var out []string
	inLesson := false
	for _, line := range strings.Split(narration, "\n") {
		note, ok := strings.CutPrefix(ansi.ReplaceAllString(strings.TrimRight(line, "\r"), ""), "==> ")
		switch {
		case !ok:
		case strings.HasPrefix(note, sys.LessonBegins):
			inLesson = true
		case strings.HasPrefix(note, sys.LessonEnds):
			inLesson = false
		case !inLesson:
			out = append(out, note)
		}
	}
	return out
}

// key is what a record and a narrated line must share.
func key(c Call) string { return c.Name + "\x00" + c.Str + "\x00" + c.Errno }

// workshopPhase is the part of a process's records made while it was
// workshop: all of them, up to a successful execve of another program than
// workshop itself (re-executed from /proc/self/exe).
func workshopPhase(recs []Record) []Record {
	for i, r := range recs {
		if r.Name == "execve" && r.Errno == "" && r.Str != "/proc/self/exe" && !strings.HasSuffix(r.Str, "/workshop") {
			return recs[:i]
		}
	}
	return recs
}

var procIDMap = regexp.MustCompile(`^/proc/\d+/(uid_map|gid_map|setgroups)$`)

// lessonCall says whether a record is one of the calls that may never go
// unnarrated.
func lessonCall(r Record) bool {
	switch r.Name {
	case "mount", "umount2", "chroot", "pivot_root", "sethostname", "setns", "unshare", "kill":
		return true
	case "pidfd_send_signal":
		// Signal 0 sends nothing: Go's pidfd probe checks the call works.
		return !strings.Contains(r.Line, ", 0, NULL, 0)")
	case "mkdirat", "unlinkat":
		return strings.HasPrefix(r.Str, "/sys/fs/cgroup/")
	case "mknod":
		return true
	case "mknodat":
		// A device node by its path: the init's /dev. An unpack makes
		// its nodes relative to a directory's descriptor, and the copy
		// of an image where overlayfs is missing its FIFOs (mkfifo),
		// both counted in their summaries of the file work.
		return strings.HasPrefix(r.Line, "mknodat(AT_FDCWD, ") && !strings.Contains(r.Line, "S_IFIFO")
	case "openat":
		writes := strings.Contains(r.Line, "O_WRONLY") || strings.Contains(r.Line, "O_RDWR")
		return writes && (strings.HasPrefix(r.Str, "/sys/fs/cgroup/") || procIDMap.MatchString(r.Str))
	}
	return false
}
