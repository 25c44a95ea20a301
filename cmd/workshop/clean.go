package main

import (
	"errors"
	"os"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	container "github.com/workshop-dev/workshop/steps/06-container"
)

func init() {
	subcommands = append(subcommands, newCleanCmd())
}

func newCleanCmd() *cobra.Command {
	var images bool
	c := &cobra.Command{
		Use:   "clean [--images]",
		Short: "Remove every cgroup, mount, root and container workshop left on this machine",
		Long: `Removes what workshop made on this machine and says what it removed: the
containers whose workshop process is gone (killed with SIGKILL, say): what is
left in their cgroup is killed, their overlay mount detached, their cgroup,
writable layer and record removed; any mount left under the state directory;
empty cgroups under workshop/ that no container records, once they are a minute
old; the roots steps 1 to 5 made (step1/, my-new-root/, step5/), after killing
what the command of a step 3 or 5 run without a PID namespace left running in
its root when that step was killed (stragglers/ marks it while it runs); what an image
addition killed halfway left in the image store, and what an image unpack or
export killed halfway left beside its DIR or FILE (.DIR.unpack-…,
.FILE.export-…, wherever that was: recorded under the state directory's
pending/ while it is made), and the half copy a step's copy of a program
killed halfway left in a root (.NAME.workshop-copy, recorded likewise);
the images no name points to any more (<none>)
once no container runs from them. A container
still run by a live workshop process is left alone, and so is anything a
process still runs in.

The images stay, unless --images: then the whole image store goes too, but
for its lock file, on which other workshop commands may be waiting.
Running it again finds nothing to remove. Interrupted (Ctrl-C), it stops
once the thing it is removing is removed, and says so (exit 128+n): running
it again removes the rest.`,
		Example: `  sudo workshop clean
  sudo workshop clean --images`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("clean takes no arguments, only --images (and the global flags such as --state-dir)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := requireRootAndProc("clean"); err != nil {
				return err
			}
			// A Ctrl-C stops clean between two things it removes, not
			// half-way through one (a container's record renamed, its
			// layer half removed).
			interrupt := make(chan os.Signal, 1)
			exit.Notify(interrupt, exit.StopSignals...)
			defer exit.Stop(interrupt)
			res := container.Clean(narrator(), container.CleanOptions{
				StateDir:  global.stateDir,
				Images:    images,
				Out:       c.OutOrStdout(),
				Err:       c.ErrOrStderr(),
				Interrupt: interrupt,
			})
			if res.Stopped != nil {
				return res.Stopped
			}
			if n := len(res.Failed); n > 0 {
				what := "one thing"
				if n > 1 {
					what = "some things"
				}
				return exit.Errorf(exit.ToolFailed, "clean could not remove %s (said above); %s, run 'workshop clean' again", what, untilWhen(res.Failed))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&images, "images", false, "remove the image store too (the built-in base image is made again on the next run)")
	return c
}

// untilWhen says when a clean that failed can succeed: what stopped it, in
// the kernel's errno.
func untilWhen(failed []error) string {
	busy := true
	for _, err := range failed {
		if errors.Is(err, syscall.EROFS) {
			return "its filesystem is read-only: once it is writable again"
		}
		busy = busy && errors.Is(err, syscall.EBUSY)
	}
	if busy {
		return "once nothing uses them"
	}
	return "once what stopped it is put right"
}
