package doctor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
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
		return []Finding{{Status: OK, Name: "/proc", Detail: "the /proc of the PID namespace workshop runs in"}}
	}
	return []Finding{{Status: Fail, Name: "/proc", Detail: why + ": steps 3 to 6, ps, kill, diff, clean and the labs' checks refuse to run", Fix: fix}}
}
