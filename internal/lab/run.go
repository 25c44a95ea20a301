package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runIn runs argv chrooted into root, as `chroot ROOT argv…` would, and
// returns its stdout and error. It is bounded (10 s, or until ctx ends: a
// Ctrl-C) so a hung program cannot hang the check.
//
// The root is the student's, and may hold what an image put there: the
// program runs as root of a user namespace of its own whose root is the
// host's nobody (65534), with no supplementary group, in its own mount,
// PID, network, IPC and UTS namespaces, so a program that climbs out of the
// chroot (step 1's escape) is nobody on the host, and all it started dies
// with it (its PID 1 is the program: the kernel kills the namespace's other
// processes when it ends). Where this kernel allows no user namespace, the
// other namespaces only: it is host root there, as the exercise's own
// command is.
func runIn(ctx context.Context, root string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The root is opened here, as host root, and the child chroots into
	// that open directory (/proc/self/fd/N: the descriptor is still open
	// in the child when it chroots, before its execve). By its path, the
	// child, whose capabilities are its user namespace's, would need
	// every directory above the root searchable by others: a student's
	// home is 0700 or 0750.
	dir, err := os.OpenFile(root, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:    fmt.Sprintf("/proc/self/fd/%d", dir.Fd()),
		Pdeathsig: syscall.SIGKILL,
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
			unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
	}
	if userNamespaces() {
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}}
		// Its ids become 0 of the namespace, the host's nobody (without
		// this it would keep host uid 0, unmapped, and own root's files),
		// and its supplementary groups none (sudo's root keeps group 0,
		// which opens root's 0660 sockets). setgroups must be allowed in
		// the namespace for that: it may only name the ids mapped there.
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	// Something that holds its output open past its end (a child of a
	// plain chroot's program) does not keep the check waiting.
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Op == "fork/exec" {
		// os/exec's words for an execve that failed: the kernel's call, as
		// the student would run it (exec format error: not a program of
		// this machine; ENOENT: no such file, or no loader for it).
		if errors.Is(pe.Err, unix.EACCES) && cmd.SysProcAttr.Cloneflags&unix.CLONE_NEWUSER != 0 {
			// Where the student's own chroot, as host root, may read
			// anything, the check's program is nobody on the host.
			return "", fmt.Errorf("execve(%q) inside the root failed: %w (the check runs it as an unprivileged user: the program, and each directory on its way inside the root, must be executable by others, as the host's are)", argv[0], pe.Err)
		}
		return "", fmt.Errorf("execve(%q) inside the root failed: %w", argv[0], pe.Err)
	}
	if err != nil && errb.Len() > 0 {
		return out.String(), &runError{err: err, stderr: errb.String()}
	}
	return out.String(), err
}

type runError struct {
	err    error
	stderr string
}

func (e *runError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }
func (e *runError) Unwrap() error { return e.err }

// nobody is the host id a checked program runs as (root of its namespace).
const nobody = 65534

// userNamespaces reports whether this kernel lets workshop make a user
// namespace (user.max_user_namespaces is not 0).
func userNamespaces() bool {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	return err == nil && strings.TrimSpace(string(b)) != "0"
}
