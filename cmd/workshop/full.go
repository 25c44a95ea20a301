package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	container "github.com/workshop-dev/workshop/steps/06-container"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// fullFlags are the flags of `workshop full run` and `workshop step 6`.
type fullFlags struct {
	runFlags
	image, name string
	keep, init  bool
}

func init() {
	full := &cobra.Command{
		Use:   "full",
		Short: "All the layers together: 'workshop full run' (the same as step 6)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageError("full needs a subcommand (usage: workshop full run [flags] -- CMD ARGS…)")
		},
	}
	run := newFullRunCmd("run")
	run.RunE = withLesson(6, run.RunE) // full run is step 6, --explain and all
	full.AddCommand(run)
	subcommands = append(subcommands, full)
	addStep(stepInfo{N: 6, Name: "container", Short: "all of it: image, overlay, cgroup, namespaces, pivot_root: a small runtime", Cmd: newFullRunCmd("6")})
}

func newFullRunCmd(use string) *cobra.Command {
	var f fullFlags
	c := &cobra.Command{
		Use:   use + " [--image NAME[:TAG]] [--name NAME] [--memory SIZE] [--pids N] [--cpus N] [--hostname NAME] [--timeout D] [--ns LIST] [--init] [--keep] [-- CMD ARGS…]",
		Short: "Run a command in a container: image, overlay root, cgroup, namespaces, pivot_root",
		Long: `Runs a command in a container made of every layer of the workshop: the image
(step 5, the built-in base image unless --image) unpacked once and mounted
read-only under an overlay whose upper layer is the container's own; a cgroup
with the limits (step 4); the namespaces and uid maps (step 3); pivot_root into
the overlay with the old root detached; /proc, a minimal /dev, the hostname;
then the command (with none, the image's bash, or its sh where it has no bash:
interactive on a terminal). 'workshop ps' lists running containers, 'workshop kill ID'
stops one, 'workshop diff ID' shows what it changed. Everything the run made is
removed when it ends (the writable layer stays with --keep).`,
		Example: `  sudo workshop full run
  sudo workshop full run --memory 80M --pids 64 --hostname box -- /bin/sh -c 'echo hi'
  sudo workshop image pack /var/lib/workshop/my-new-root demo:1 && sudo workshop full run --image demo:1 -- /bin/bash -c 'ls /'`,
		Args: commandAfterDash,
		RunE: func(c *cobra.Command, args []string) error {
			limits, timeout, err := parseLimitFlags(f.runFlags)
			if err != nil {
				return err
			}
			// Said now, before the image is made and the overlay mounted:
			// a mistake is one sentence and nothing to clean.
			flags, err := parseNSFlag(f.runFlags)
			if err != nil {
				return err
			}
			if flags&unix.CLONE_NEWNS == 0 {
				return usageError("--ns %s: a step 6 container needs the mount namespace (pivot_root works only in one): add mount", strings.Join(f.ns, ","))
			}
			if err := requireRootAndProc("a container"); err != nil {
				return err
			}
			interactive := false
			if len(args) == 0 {
				// The image's shell (container.ImageShell): interactive
				// on a terminal, reading its commands from stdin
				// otherwise, so a run works in a pipe too.
				args = nil
				if term.IsTerminal(int(os.Stdin.Fd())) {
					// An interactive shell needs the terminal: where the
					// container is not handed it (full run &, full run |
					// tee log) its input is /dev/null, and the shell
					// would end at once, having read nothing.
					if why := namespaces.NoTerminalFor(os.Stdin, os.Stdout); why != "" {
						return usageError("%s, and the interactive shell it would start needs the terminal: run it in the foreground without a pipe, or give a command after --", why)
					}
					interactive = true
				}
			}
			if err := explainNow(); err != nil {
				return err
			}
			n := narrator()
			res, err := container.Run(n, container.Options{
				StateDir:    global.stateDir,
				Image:       f.image,
				Name:        f.name,
				Args:        args,
				Interactive: interactive,
				Hostname:    f.hostname,
				Namespaces:  f.ns,
				Limits:      limits,
				Timeout:     timeout,
				Init:        f.init,
				Keep:        f.keep,
				Stdin:       os.Stdin,
				Stdout:      os.Stdout,
				Stderr:      os.Stderr,
			})
			if res.RecordErr != nil {
				// The run's own status or error stays: the record's
				// failure after it is said, not put in its place.
				fmt.Fprintln(os.Stderr, "workshop: "+hint.Rewrite(res.RecordErr.Error()))
			}
			if err != nil {
				if exit.Status(err) != exit.ToolFailed || exit.Silent(err) {
					return err
				}
				return exit.Errorf(exit.ToolFailed, "%w", err)
			}
			return res.Verdict(n, limits)
		},
	}
	addRunFlags(c, &f.runFlags, withNamespaces|withLimits)
	fl := c.Flags()
	fl.StringVar(&f.image, "image", "", "the image to run (default: the built-in base image, made on first use)")
	fl.StringVar(&f.name, "name", "", "a name for the container (default: a generated one)")
	fl.BoolVar(&f.keep, "keep", false, "keep the container's writable layer after it ends (see 'workshop diff')")
	fl.BoolVar(&f.init, "init", false, "run a tiny init as PID 1 that reaps zombies and passes signals on")
	return c
}
