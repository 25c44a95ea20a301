package lddcopy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/flock"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
	"golang.org/x/sys/unix"
)

// Shell is the walkthrough's choice: every root of steps 2-4 has bash.
const Shell = "/bin/bash"

// Populate makes root (if missing) and copies into it each of bins (names
// on the host PATH, or paths), the interpreters of scripts among them, and
// the libraries and ELF interpreter of each dynamic binary, at the same
// paths as on the host. It prints what each program needs the way ldd does,
// narrates every change, and says what was already up to date. A name that
// is not on the host is a *NotFoundError.
func Populate(n *sys.Narrator, root string, bins []string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	n.Note("asking the dynamic loader what each program needs (with --list; ldd(1) asks it the same, through LD_TRACE_LOADED_OBJECTS=1)")
	progs, err := Resolve(bins)
	reportLoaderRuns(n, progs) // those that happened, also before an error
	if err != nil {
		return err
	}
	PrintDeps(n.Writer(), progs)
	files, err := Files(progs)
	if err != nil {
		return err
	}
	if err := chroot.MakeRoot(n, root); err != nil {
		return err
	}
	unlock, err := lockRoot(n, root)
	if err != nil {
		return err
	}
	defer unlock()
	// The count is of the paths ldd named and the links that lead from
	// them to the real files; a symlinked directory on the way (bin ->
	// usr/bin) is counted apart at the end.
	n.Note("copying %s (the programs, their libraries and loader, and the links to the real files) into %s, each to the same path it has on the host", units.Count(len(files), "path", "paths"), root)
	c := newCopier(n, root)
	// A stop signal from here on ends the copy between two files or two
	// chunks, the half-copied one removed: killed by it, as before, the
	// step left that file in the root, and an image packed from the root
	// carried it.
	stop := make(chan os.Signal, 1)
	exit.Notify(stop, exit.StopSignals...)
	defer exit.Stop(stop)
	c.stop = stop
	c.sweep(destDirs(files))
	for _, f := range files {
		if err := c.place(f); err != nil {
			return err
		}
	}
	if err := c.stopped(); err != nil {
		return err // after the last file: still the student's Ctrl-C
	}
	if c.copied+c.linked+c.made == 0 {
		n.Note("nothing to copy: all %d files and symlinks are already up to date in %s", c.upToDate, root)
	} else {
		n.Note("copied %s, made %s and %s; %d already up to date", count(c.copied, "file"), count(c.linked, "symlink"), count(c.made, "directory"), c.upToDate)
	}
	return nil
}

// Step is step 2: populate root with bash, the command's program and bins,
// then run the command in the root as `chroot my-new-root CMD` does. With no
// command it runs bash: interactive when stdin is a terminal, otherwise
// reading commands from stdin. It returns the command's exit status (127
// when it is not in the root, 126 when it cannot be executed).
func Step(n *sys.Narrator, root string, bins, argv []string, stdin io.Reader, stdout, stderr io.Writer) (status int, err error) {
	want := []string{Shell}
	path := ""
	if len(argv) == 0 {
		// execve("/bin/bash", ["bash"]): the very call that failed in step 1.
		path, argv = Shell, []string{"bash"}
	} else if p, err := Lookup(argv[0]); err == nil {
		want = append(want, p)
		if RunsByPath(argv[0], p) {
			// Found on the host's PATH but not on the root's (~/go/bin…):
			// run it by the path it gets in the root.
			path = p
		}
	} else if np := (*NotProgramError)(nil); errors.As(err, &np) {
		n.Note("%v: it is not copied (the root would carry the host's file into every image made from it), so the root will not have it", np)
	} else if fi, serr := os.Stat(argv[0]); serr == nil && fi.IsDir() && strings.Contains(argv[0], "/") {
		n.Note("%s is a directory on the host, not a program: nothing is copied for it", argv[0])
	} else {
		n.Note("%s is not on the host either, so the root will not have it", argv[0])
	}
	want = append(want, bins...)
	if err := Populate(n, root, want); err != nil {
		return exit.ToolFailed, err
	}
	n.Note("now the walkthrough's `chroot %s %s`", hint.Quote(root), hint.Quote(argv[0]))
	status, err = chroot.RunProgram(n, root, path, argv, stdin, stdout, stderr)
	if err != nil {
		return status, fmt.Errorf("run %s in %s: %w", argv[0], root, err)
	}
	return status, nil
}

// destDirs are the directories the copies of files go to, each once, as
// their paths are on the host (and will be inside the root).
func destDirs(files []string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(filepath.Clean(f))
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// count says "1 file", "2 files", "1 directory", "3 directories".
func count(k int, noun string) string {
	if k == 1 {
		return "1 " + noun
	}
	if plural, ok := strings.CutSuffix(noun, "y"); ok {
		return fmt.Sprintf("%d %sies", k, plural)
	}
	return fmt.Sprintf("%d %ss", k, noun)
}

// RunsByPath reports whether the command name, found on the host at p and
// copied to the same path in a root, must be run there by p: a bare name
// whose directory the root's PATH lacks (~/go/bin, /usr/local/go/bin),
// which the container would not find by its name.
func RunsByPath(name, p string) bool {
	return !strings.Contains(name, "/") && !onDefaultPath(filepath.Dir(p))
}

// onDefaultPath reports whether dir is one of the directories of the root's
// PATH (chroot.DefaultPath), where a bare command name is looked up.
func onDefaultPath(dir string) bool {
	for _, d := range filepath.SplitList(chroot.DefaultPath) {
		if d == dir {
			return true
		}
	}
	return false
}

// lockRoot takes an exclusive lock on the root directory itself (a flock on
// it: no lock file to leave behind) while the copies are made, and returns
// its release. Two steps that fill the same root at once (step 3 and step 4
// in two terminals) would otherwise write the same .NAME.workshop-copy and
// rename each other's half copies into place.
func lockRoot(n *sys.Narrator, root string) (func(), error) {
	fd, err := n.Openat(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock the root: %w", err)
	}
	err = n.Because("lock the root against another workshop filling it now (LOCK_NB: fail at once instead of waiting)").Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		var tries int
		tries, err = flock.Wait(fd, unix.LOCK_EX, "another workshop to fill "+root, "nothing was copied", func() {
			n.Note("another workshop is filling %s now: trying again every %v until it is done (Ctrl-C stops waiting)", root, flock.Tick)
		})
		switch {
		case err == nil:
			n.Note("… %s; the last one took the lock", units.Count(tries, fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) call", fd), fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) calls", fd)))
		case tries > 0:
			n.Note("… %s, until the wait was given up", units.Count(tries, fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) call, EWOULDBLOCK", fd), fmt.Sprintf("more flock(%d, LOCK_EX|LOCK_NB) calls, each EWOULDBLOCK", fd)))
		}
	}
	if err != nil {
		n.CloseFd(fd)
		if code := exit.Status(err); code > exit.SignalBase {
			return nil, err // interrupted: its sentence says so
		}
		return nil, fmt.Errorf("lock the root %s: %w", root, err)
	}
	return func() { n.CloseFd(fd) }, nil // closing the directory releases the lock
}

// reportLoaderRuns tells, once they have happened, of the programs u-root's
// ldd ran: the ELF interpreter with --list, once per dynamic program, each
// in a child that Go's os/exec made inside ldd (a clone, then an execve
// that succeeded, or ldd would have failed). workshop makes no call of
// those itself, so it cannot print them one by one as they happen.
func reportLoaderRuns(n *sys.Narrator, progs []Program) {
	var first string
	var others []string
	for _, p := range progs {
		if p.Script || p.Interp == "" {
			continue
		}
		if first == "" {
			first = fmt.Sprintf("execve(%q, %s, …) = 0", p.Interp, sys.Argv([]string{p.Interp, "--list", p.Path}))
		} else {
			others = append(others, p.Path)
		}
	}
	if first == "" {
		return
	}
	n.BeforeFirstChild()
	switch {
	case len(others) == 0:
		n.Note("ldd ran the loader in a child process (Go's os/exec made its clone and execve): %s", first)
	default:
		n.Note("ldd ran the loader in %d child processes (Go's os/exec made their clone and execve): %s, and the same for %s", len(others)+1, first, strings.Join(others, ", "))
	}
}
