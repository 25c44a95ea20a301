package doctor

import (
	"io/fs"
	"os"
	"os/exec"

	"github.com/workshop-dev/workshop/internal/state"
	"golang.org/x/sys/unix"
)

// Host is where the checks look. NewHost points it at the real machine; the
// unit tests point the files at fakes in a temp dir and replace the probes,
// so each check's logic is tested without root or a particular kernel.
type Host struct {
	ProcSys     string // /proc/sys
	Filesystems string // /proc/filesystems
	StateDir    string // --state-dir
	Euid        int

	Uname     func() (release, machine string, err error)
	LookPath  func(file string) (string, error)
	FreeBytes func(path string) (uint64, error)
	// Writable is nil when a directory can be written in (access(2) with
	// W_OK: for root, that fails only on a read-only filesystem).
	Writable func(dir string) error
	// Noexec reports whether path's filesystem is mounted noexec.
	Noexec func(path string) bool

	// TryClone creates a process in a new namespace of the kind flag names
	// (one CLONE_NEW* flag) and waits for it; nil when that worked.
	TryClone func(flag uintptr) error
	// TryMounts mounts an overlay and does a pivot_root in a throwaway mount
	// namespace, with its scratch directories under dir.
	TryMounts func(dir string) MountProbe
	// Cgroups is step 4's view of the cgroups.
	Cgroups CgroupProbe
	// Proc says what is wrong with /proc, as OwnProc.
	Proc func() (why, fix string)
	// MountNSNotOurs reports, as MountNSNotOurs, whether workshop's mount
	// namespace belongs to another user namespace than its own.
	MountNSNotOurs func() bool
	// ProcOvermounts lists the files of /proc mounted over, as
	// ProcOvermounts.
	ProcOvermounts func() []string
}

// NewHost is the real machine, with workshop's state in stateDir; cgroups
// is step 4's probe of its cgroups (see CgroupProbe).
func NewHost(stateDir string, cgroups CgroupProbe) *Host {
	return &Host{
		ProcSys:     "/proc/sys",
		Filesystems: "/proc/filesystems",
		StateDir:    stateDir,
		Euid:        os.Geteuid(),
		Uname:       uname,
		LookPath:    exec.LookPath,
		FreeBytes:   freeBytes,
		Writable:    writable,
		Noexec:      Noexec,
		TryClone:    tryClone,
		TryMounts:   tryMounts,
		Cgroups:     cgroups,
		Proc:        OwnProc,

		MountNSNotOurs: MountNSNotOurs,
		ProcOvermounts: ProcOvermounts,
	}
}

func uname() (release, machine string, err error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", "", err
	}
	return unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), nil
}

// freeBytes is the space left for files at path. It counts Bavail, not
// Bfree: the blocks a filesystem reserves for root are meant to keep the
// system alive when a disk fills, not for workshop's roots and images.
func freeBytes(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Noexec reports whether path's filesystem is mounted noexec (statfs, a
// look that changes nothing).
func Noexec(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Flags&unix.ST_NOEXEC != 0
}

func writable(dir string) error {
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return &fs.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}

// existingAncestor is state.ExistingAncestor.
func existingAncestor(dir string) string { return state.ExistingAncestor(dir) }
