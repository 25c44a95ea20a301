package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/rtsig"
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
// other namespaces only, and it runs as the host's nobody all the same
// (the child chroots before it drops to nobody): as host root there, it
// climbed out of the chroot with every capability.
//
// What it prints is kept up to maxOutput: a program that prints for ever
// is stopped there, where its output grew in root's memory for the ten
// seconds (5 GB).
func runIn(ctx context.Context, root string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, runLimit)
	defer cancel()
	ctx, tooMuch := context.WithCancelCause(ctx)
	defer tooMuch(nil)
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
	// Nobody must be a user of workshop's own user namespace: run from one
	// that maps root alone (unshare --user --map-root-user), the map
	// "0 65534 1", or a setuid to 65534, is refused, and the student was
	// told the program failed.
	if !nobodyMapped() {
		return "", &SandboxError{Err: errors.New("nobody (65534), whom it runs the program as, is no user of the user namespace workshop runs in (/proc/self/uid_map)")}
	}
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
	} else {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	// Something that holds its output open past its end (a child of a
	// plain chroot's program) does not keep the check waiting.
	cmd.WaitDelay = time.Second
	out := &capped{limit: maxOutput, full: tooMuch}
	errb := &capped{limit: maxOutput, full: tooMuch}
	cmd.Stdout, cmd.Stderr = out, errb
	// Started with signals 32 and 34 at their default action, not ignored
	// as workshop has them (rtsig): the student's program gets what it
	// would from their shell.
	if err = rtsig.Unignored(cmd.Start); err == nil {
		err = cmd.Wait()
	}
	if cause := context.Cause(ctx); errors.Is(cause, errTooMuchOutput) {
		return "", fmt.Errorf("%s printed more than %d kB, and was stopped: %w", argv[0], maxOutput>>10, cause)
	} else if errors.Is(cause, context.DeadlineExceeded) {
		return "", fmt.Errorf("%s ran past the check's %v, and was stopped", argv[0], runLimit)
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Op == "fork/exec" && sandboxRefused(pe.Err) {
		// The clone of the check's own namespaces, not the program's
		// execve: no fault of the student's.
		return "", &SandboxError{Err: pe.Err}
	}
	if errors.As(err, &pe) && pe.Op == "fork/exec" {
		// os/exec's words for an execve that failed: the kernel's call, as
		// the student would run it (exec format error: not a program of
		// this machine; ENOENT: no such file, or no loader for it).
		if errors.Is(pe.Err, unix.EACCES) {
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

// nobodyMapped reports whether uid and gid 65534 are in the user namespace
// workshop runs in (the initial one maps every id).
func nobodyMapped() bool {
	for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return true // no user namespaces at all: the host's ids
		}
		mapped := false
		for _, line := range strings.Split(string(b), "\n") {
			var inside, outside, count uint64
			if n, _ := fmt.Sscan(line, &inside, &outside, &count); n == 3 && inside <= nobody && nobody < inside+count {
				mapped = true
			}
		}
		if !mapped {
			return false
		}
	}
	return true
}

// permissionDenied says whether a run's error is the kernel's EACCES or a
// loader's "Permission denied": only then may a root closed to others be
// the cause.
func permissionDenied(err error) bool {
	return errors.Is(err, unix.EACCES) || err != nil && strings.Contains(err.Error(), "Permission denied")
}

// closedToOthers says which is the first entry of root (root itself
// included) that the checked program, an unprivileged user, cannot use,
// as "others may not enter my-new-root (a directory of mode 0700)": a directory
// others may not search, or a file others may not read (a program or a
// library made under a umask of 077, or cp'd from a 0700 one), with its
// mode; "" when there is none. The student's own sudo chroot, as root,
// passes them, so its hint must say so. (Symlinks are left to the run.)
func closedToOthers(root string) string {
	var found string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Dir(root), p)
		switch m := fi.Mode(); {
		case m.IsDir() && m.Perm()&0o001 == 0:
			found = fmt.Sprintf("others may not enter %s (a directory of mode %04o)", rel, m.Perm())
		case m.IsRegular() && isLibrary(d.Name()) && m.Perm()&0o004 == 0:
			// The loader reads a library: running it is not enough.
			found = fmt.Sprintf("others may not read %s (a library of mode %04o)", rel, m.Perm())
		case m.IsRegular() && m.Perm()&0o005 == 0:
			// Others may run it (0711: a program needs no read) or
			// read it: either is enough for the check.
			found = fmt.Sprintf("others may neither read nor run %s (a file of mode %04o)", rel, m.Perm())
		}
		return nil
	})
	return found
}

// isLibrary reports whether a file's name is a shared library's (libc.so.6,
// ld-linux-x86-64.so.2).
func isLibrary(name string) bool {
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")
}

// closedHint is the hint for an entry closedToOthers found.
func closedHint(what, root string) string {
	return "the check runs the program as an unprivileged user, and " + what + ", made under a umask of 077 perhaps: open the root to others, as the host's / is: chmod -R a+rX " + filepath.Base(root)
}

// runLimit is how long a checked program may run (a variable, for a test).
var runLimit = 10 * time.Second

// maxOutput is how much of what a checked program prints is kept.
const maxOutput = 64 << 10

var errTooMuchOutput = errors.New("too much output")

// capped keeps what is written to it up to limit bytes; past that it calls
// full, which stops the program, and takes no more. (No bytes.Buffer
// embedded: its ReadFrom, which os/exec's copy would use, takes all.)
type capped struct {
	buf   bytes.Buffer
	limit int
	full  context.CancelCauseFunc
}

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.limit {
		c.full(errTooMuchOutput)
		return 0, errTooMuchOutput
	}
	return c.buf.Write(p)
}

func (c *capped) String() string { return c.buf.String() }
func (c *capped) Len() int       { return c.buf.Len() }

// SandboxError is runIn's error when the namespaces the check runs a
// program in could not be made (a limit of the kernel's reached): the
// check could not check, whatever the student did.
type SandboxError struct{ Err error }

func (e *SandboxError) Error() string {
	var errno unix.Errno
	if errors.As(e.Err, &errno) {
		return fmt.Sprintf("the check could not make the namespaces it runs your program in: %v (the kernel's limits on namespaces, user.max_*_namespaces in /proc/sys/user, or on processes; 'workshop doctor' looks at them)", e.Err)
	}
	return fmt.Sprintf("the check cannot run your program as it runs it: %v; run the check on the host, as its root, outside any user namespace", e.Err)
}

func (e *SandboxError) Unwrap() error { return e.Err }

// CheckError is a failure of the check's own work (its state dir full,
// read-only or noexec), not of the student's.
type CheckError struct {
	What string // what the check was doing: "unpack your archive"
	Err  error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("the check could not %s: %v", e.What, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }

// cannotCheck is the check's own failure (125) where err is a
// SandboxError or a CheckError, or nil: a check that cannot run the
// student's program says so, instead of reporting the exercise undone.
func cannotCheck(err error) error {
	var se *SandboxError
	if errors.As(err, &se) {
		return exit.Code(exit.ToolFailed, se)
	}
	var ce *CheckError
	if errors.As(err, &ce) {
		return exit.Code(exit.ToolFailed, ce)
	}
	return nil
}

// sandboxRefused says whether err, from the clone and execve of a checked
// program, is the clone's: ENOSPC (a namespace limit), EUSERS (user
// namespaces nested too deep), EAGAIN (no more processes). An execve fails
// otherwise (ENOENT, EACCES, ENOEXEC…).
func sandboxRefused(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS) || errors.Is(err, unix.EAGAIN)
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
// namespace (user.max_user_namespaces is not 0). A variable, for a test.
var userNamespaces = func() bool {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	return err == nil && strings.TrimSpace(string(b)) != "0"
}
