package stracecheck

import (
	"fmt"
	"regexp"
	"strings"
)

// Check proves that every narrated line happened; CheckNothingHidden proves
// the other half of the narrator's contract: that no call the lessons are
// about happened without its line. Those calls are the ones that change
// what a container is, as strace records them from a workshop process
// (before it has exec'd the student's command, whose own calls are its
// business):
//
//	mount, umount2, chroot, pivot_root, sethostname, setns, unshare, kill;
//	mkdirat and unlinkat under /sys/fs/cgroup (making, removing a cgroup);
//	openat for writing under /sys/fs/cgroup, or of /proc/PID/uid_map,
//	gid_map and setgroups (every limit, every cgroup.procs or tasks write,
//	every id map).
//
// Each such record must be matched by a narrated line of the same name, the
// same first string argument and the same success or errno; lines and
// records are matched as multisets, since a child in a PID namespace names
// itself by another pid than strace does.
func CheckNothingHidden(narration, straceLog string) error {
	records, root := ParseStrace(straceLog)
	if root == 0 {
		return fmt.Errorf("the strace log is empty")
	}
	narrated := map[string]int{}
	for _, l := range ParseNarration(narration) {
		narrated[key(l.Call)]++
	}
	for _, recs := range groupByProcess(records) {
		for _, r := range workshopPhase(recs) {
			if !lessonCall(r) {
				continue
			}
			k := key(r.Call)
			if narrated[k] == 0 {
				return fmt.Errorf("strace saw %q in a workshop process, and the narration has no line for it", r.Line)
			}
			narrated[k]--
		}
	}
	return nil
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
	case "mkdirat", "unlinkat":
		return strings.HasPrefix(r.Str, "/sys/fs/cgroup/")
	case "openat":
		writes := strings.Contains(r.Line, "O_WRONLY") || strings.Contains(r.Line, "O_RDWR")
		return writes && (strings.HasPrefix(r.Str, "/sys/fs/cgroup/") || procIDMap.MatchString(r.Str))
	}
	return false
}
