package doctor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/reexec"
	"golang.org/x/sys/unix"
)

// namespaces are the seven kinds step 3 creates, with the clone flag that
// makes each and the per-kind limit in /proc/sys/user (namespaces(7)).
var namespaces = []struct {
	name  string
	flag  uintptr
	clone string // the flag as strace prints it
	limit string // user.max_*_namespaces
}{
	{"mount", unix.CLONE_NEWNS, "CLONE_NEWNS", "user.max_mnt_namespaces"},
	{"uts", unix.CLONE_NEWUTS, "CLONE_NEWUTS", "user.max_uts_namespaces"},
	{"ipc", unix.CLONE_NEWIPC, "CLONE_NEWIPC", "user.max_ipc_namespaces"},
	{"net", unix.CLONE_NEWNET, "CLONE_NEWNET", "user.max_net_namespaces"},
	{"pid", unix.CLONE_NEWPID, "CLONE_NEWPID", "user.max_pid_namespaces"},
	{"user", unix.CLONE_NEWUSER, "CLONE_NEWUSER", "user.max_user_namespaces"},
	{"cgroup", unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "user.max_cgroup_namespaces"},
}

// checkNamespaces creates each kind of namespace in a throwaway child: the
// only sure way to know, since a kernel option, a sysctl, a seccomp filter
// or a container around us can each forbid one.
func checkNamespaces(h *Host) []Finding {
	var out []Finding
	for _, ns := range namespaces {
		name := "namespace " + ns.name
		// Only a user namespace can be made without root.
		if h.Euid != 0 && ns.flag != unix.CLONE_NEWUSER {
			out = append(out, Finding{Status: Skip, Name: name, Detail: "not tried: creating it needs root"})
			continue
		}
		err := h.TryClone(ns.flag)
		if err == nil {
			out = append(out, Finding{Status: OK, Name: name, Detail: fmt.Sprintf("clone(%s) works", ns.clone)})
			continue
		}
		out = append(out, Finding{Status: Fail, Name: name, Detail: fmt.Sprintf("clone(%s) = %s", ns.clone, failure(err)), Fix: namespaceFix(h, ns.name, ns.limit, err)})
	}
	return out
}

// namespaceFix says what each errno of clone(2) means for a namespace flag.
func namespaceFix(h *Host, name, limit string, err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("this kernel was built without %s namespaces: use the classroom VM (vagrant up)", name)
	case errors.Is(err, unix.ENOSPC):
		if v, ok, _ := readSysctl(h, limit); ok && v == "0" {
			return fmt.Sprintf("%s = 0 forbids them: sudo sysctl -w %s=15000", limit, limit)
		}
		return fmt.Sprintf("the limit %s is reached: raise it (sudo sysctl -w %s=15000) or end the processes holding them", limit, limit)
	case errors.Is(err, unix.EPERM) && h.Euid == 0:
		return "root was refused: workshop is probably running inside a container or under a seccomp filter; run it on a VM or a real host (the classroom VM: vagrant up)"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "see the user namespaces line below; or run it with sudo"
	}
	return "use the classroom VM (vagrant up)"
}

// failure renders an error the way strace prints a failed call's result:
// "-1 EPERM (Operation not permitted)".
func failure(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			msg := errno.Error()
			if msg != "" {
				msg = strings.ToUpper(msg[:1]) + msg[1:]
			}
			return fmt.Sprintf("-1 %s (%s)", name, msg)
		}
	}
	return err.Error()
}

// noopInit is what a namespace probe's child runs: nothing. Being created
// was its whole job.
const noopInit = "doctor-noop"

func init() {
	reexec.Register(noopInit, func() int { return 0 })
}

// tryClone starts this binary as "workshop __init doctor-noop" in a new
// namespace of one kind and waits for it. Go's runtime makes the clone with
// our flag inside exec.Cmd.Start, so a refused namespace is Start's error.
func tryClone(flag uintptr) error {
	cmd := exec.Command("/proc/self/exe", reexec.Arg, noopInit)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flag}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return unix.Errno(errno)
		}
		return err
	}
	return nil
}
