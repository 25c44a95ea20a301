package main

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/state"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
)

func init() {
	var root, demo string
	c := &cobra.Command{
		Use:   "1 [--root DIR] [--demo escape]",
		Short: "chroot into an empty root, and see bash fail to start",
		Long: `Step 1 makes an empty root (my-new-root), and a child process that calls
chroot(root), chdir("/") and execve("/bin/bash"): it fails with ENOENT, because
after chroot every path is looked up inside the root, and the root is empty.

--demo escape shows that chroot is not a security boundary: a root process
inside a chroot climbs out and lists the host's /.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				// "step 1 2": two steps, not a command named 2.
				if n, err := strconv.Atoi(args[0]); err == nil && n >= 2 && n <= len(stepList) {
					return usageError("%q: one step at a time: 'workshop step %d' runs step %d (step 1 takes no command)", args[0], n, n)
				}
			}
			if len(args) > 0 {
				return usageError("step 1 runs no command of yours: it always tries /bin/bash in an empty root, to show why that fails; "+
					"step 2 runs a command (workshop step 2 -- %s)", hint.QuoteWords(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := requireRoot("step 1"); err != nil {
				return err
			}
			if root == "" {
				root = filepath.Join(global.stateDir, "step1", "my-new-root")
			}
			if err := checkRootFlag(root); err != nil {
				return err
			}
			if demo != "" && demo != "escape" {
				return usageError("--demo %q: step 1 has one demo, 'escape'", demo)
			}
			if err := explainNow(); err != nil {
				return err
			}
			defer holdSteps()()
			n := narrator()
			if demo == "escape" {
				return chroot.Escape(n, root, os.Stdout, os.Stderr)
			}
			return chroot.Step(n, root, os.Stdin, os.Stdout, os.Stderr)
		},
	}
	c.Flags().StringVar(&root, "root", "", "the empty root to make and chroot into (default: step1/my-new-root in the state dir)")
	c.Flags().StringVar(&demo, "demo", "", "'escape': climb out of a chroot as root, and list the host's /")
	addStep(stepInfo{N: 1, Name: "chroot", Short: "chroot into an empty root: bash is not there (--demo escape: chroot is no jail)", Cmd: c})
}

// checkRootFlag refuses a --root that exists and is not a directory, or
// whose path goes through a file.
func checkRootFlag(root string) error {
	if err := checkDirFlag("--root", root, "a root must be a directory (give a new path, and workshop makes it)"); err != nil {
		return err
	}
	return checkRootOutsideKept(root)
}

// checkRootOutsideKept refuses a root that is the state dir, or lies in
// what workshop keeps there: the image store and the containers. Step 2
// copies programs into its root, step 1 makes directories there: in an
// image's unpacked root, every container of that image would see them,
// and the image would no longer be its tar (its id, its export). Nor may
// a root be one of the machine's own directories (/usr/local, a home).
func checkRootOutsideKept(root string) error {
	// The host's own /: step 2 would copy programs over the host's, and a
	// "container" chrooted there is in no jail at all.
	real := state.Resolve(root)
	if real == "/" {
		return usageError("--root %s is the host's own root: a container's root is a directory of its own, which the steps fill (give a new path, and workshop makes it)", root)
	}
	if kernel := kernelTree(real); kernel != "" {
		return usageError("--root %s is under %s, the kernel's view of itself, where no root can be made: give a directory on a disk (give a new path, and workshop makes it)", root, kernel)
	}
	// /dev itself is one of hostDirs; below it are the device nodes, which
	// the steps would write among (/dev/shm, a tmpfs for anyone, is
	// refused only itself: a root in a directory of it is a root in RAM).
	if strings.HasPrefix(real, "/dev/") && real != "/dev/shm" && !strings.HasPrefix(real, "/dev/shm/") {
		return usageError("--root %s is under /dev, among the machine's device nodes: give a directory on a disk (give a new path, and workshop makes it)", root)
	}
	if what := hostsOwn(root); what != "" {
		return usageError("--root %s is %s: the steps would copy programs and libraries into it (bin/bash, lib64/…) and make directories there; "+
			"a container's root is a directory of its own (give a new path, and workshop makes it)", root, what)
	}
	if imagetar.Holds(root, global.stateDir) && imagetar.Holds(global.stateDir, root) {
		return usageError("--root %s is workshop's state dir: give a directory of its own (or leave --root out for the step's default)", root)
	}
	// A root that holds the state dir would show the container workshop's
	// images and records, to change at will, and step 5 would pack them.
	if imagetar.Holds(root, global.stateDir) {
		return usageError("--root %s holds workshop's state dir (%s): a container there would see workshop's images and records, and could change them; give a directory of its own (or leave --root out for the step's default)", root, state.Resolve(global.stateDir))
	}
	if k, ok := imagetar.OpenStore(global.stateDir).KeptPlace(root); ok {
		return usageError("--root %s is in workshop's %s (%s), which no step may write into: %s; give a directory of your own", root, k.What, k.Dir, k.Why)
	}
	return nil
}

// hostDirs are directories of the machine's own that a careless --root
// (a --root . typed in the wrong place) could name.
var hostDirs = []string{"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
	"/dev/shm", "/root", "/run", "/sbin", "/srv", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/lib64", "/usr/local", "/usr/local/bin",
	"/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/lib", "/var/tmp"}

// hostsOwn says what dir is when it is one of the machine's own
// directories or a home ("/usr/local, one of this machine's own
// directories"), and is "" for any other.
func hostsOwn(dir string) string {
	real := state.Resolve(dir)
	if slices.Contains(hostDirs, real) {
		return real + ", one of this machine's own directories"
	}
	homes := []string{os.Getenv("HOME")}
	if u, err := user.Lookup(os.Getenv("SUDO_USER")); err == nil {
		homes = append(homes, u.HomeDir)
	}
	for _, h := range homes {
		if h != "" && h != "/" && state.Resolve(h) == real {
			return "a home directory (" + real + ")"
		}
	}
	if filepath.Dir(real) == "/home" {
		return "a home directory (" + real + ")"
	}
	return ""
}

// checkDirFlag refuses a directory flag (--root, --state-dir) whose value
// exists and is not a directory, or goes through a file on its way, with a
// sentence naming the flag (not "stat …: not a directory").
func checkDirFlag(flag, dir, why string) error {
	for _, part := range strings.Split(dir, "/") {
		if len(part) > syscall.NAME_MAX {
			return usageError("%s: a name in that path, %.20q…, is %d bytes, longer than a name can be (%d)", flag, part, len(part), syscall.NAME_MAX)
		}
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return usageError("%s %s is not a directory: %s", flag, dir, why)
	case errors.Is(err, syscall.ENOTDIR):
		return usageError("%s %s: a part of that path is a file, not a directory", flag, dir)
	case errors.Is(err, syscall.ELOOP):
		return usageError("%s %s: its symlinks lead round in a loop (too many levels of symbolic links): give a path that leads to a directory", flag, dir)
	case errors.Is(err, os.ErrNotExist):
		// A symlink to nothing: mkdir would say "file exists".
		if target, lerr := os.Readlink(dir); lerr == nil {
			return usageError("%s %s is a symlink to %s, which does not exist: make that directory, or give another", flag, dir, target)
		}
	}
	return nil
}
