package doctor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/mountopt"
)

// OwnProc says what is wrong with /proc for workshop, which finds its
// children, their namespaces and their maps by pid under it: why is ""
// when /proc is the one of the PID namespace workshop runs in. In a PID
// namespace whose /proc is another's (unshare --pid --fork without
// --mount-proc), /proc/PID is some other process, and the first write to
// one failed with a bare "operation not permitted". (readlink, a look
// that changes nothing: not narrated.)
func OwnProc() (why, fix string) {
	self, err := os.Readlink("/proc/self")
	switch {
	case err != nil:
		return fmt.Sprintf("/proc/self cannot be read (%v)", errors.Unwrap(err)), "mount it with 'mount -t proc proc /proc'"
	case self != strconv.Itoa(os.Getpid()):
		return fmt.Sprintf("this /proc is another PID namespace's (it calls workshop %s, not %d)", self, os.Getpid()),
			"in a PID namespace of your own, mount its /proc ('unshare --pid --fork --mount-proc …' does)"
	}
	return "", ""
}

func checkProc(h *Host) []Finding {
	why, fix := h.Proc()
	if why == "" {
		if h.ProcOvermounts != nil {
			if over := h.ProcOvermounts(); len(over) > 0 {
				return []Finding{procOvermountFinding(over)}
			}
		}
		return []Finding{{Status: OK, Name: "/proc", Detail: "the /proc of the PID namespace workshop runs in"}}
	}
	return []Finding{{Status: Fail, Name: "/proc", Detail: why + ": steps 3 to 6, ps, kill, diff, clean and the labs' checks refuse to run", Fix: fix}}
}

// ProcOvermounts lists what is mounted over a file of /proc (lxcfs, in an
// LXC container, mounts its own /proc/meminfo, /proc/cpuinfo…). The kernel
// lets a user namespace mount a /proc of its own only where the /proc it
// can see hides nothing: with such mounts, every container with a user
// namespace fails on its /proc's mount with EPERM. (reads and lstat, looks
// that change nothing: not narrated.)
func ProcOvermounts() []string {
	mounts, err := mountopt.ReadSelf()
	if err != nil {
		return nil
	}
	var over []string
	for _, m := range mounts {
		if !strings.HasPrefix(m.Point, "/proc/") {
			continue
		}
		if fi, err := os.Lstat(m.Point); err == nil && !fi.IsDir() {
			over = append(over, m.Point)
		}
	}
	return over
}

// procOvermountFinding is /proc's finding where files of it are mounted
// over.
func procOvermountFinding(over []string) Finding {
	shown := over
	if len(shown) > 3 {
		shown = append(shown[:3:3], "…")
	}
	return Finding{Status: Fail, Name: "/proc",
		Detail: fmt.Sprintf("files of /proc are mounted over (%s, as lxcfs does in an LXC container): the kernel then lets no user namespace mount a /proc of its own, and steps 3 to 6 make one", strings.Join(shown, ", ")),
		Fix:    "leave the user namespace out (--ns mount,uts,ipc,net,pid,cgroup), or use the classroom VM (vagrant up)"}
}
