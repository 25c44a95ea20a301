package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
)

func init() {
	var f runFlags
	var gz bool
	c := &cobra.Command{
		Use:   "5 [--root DIR] [--gzip] [--ns LIST] [--hostname NAME] [-- CMD ARGS…]",
		Short: "images: pack the root into a tar, unpack it into a fresh container-root, run it there",
		Long: `Step 5 does what the walkthrough does with tar:
  tar cvf dockercontainer.tar my-new-root
  mkdir container-root; tar xf dockercontainer.tar -C container-root/
  unshare … chroot container-root bash
First the walkthrough's way, to show its pitfall (every entry is stored under
my-new-root/, so the chroot finds no /bin/bash), then the way images do it:
entries relative to the root, unpacked safely into a fresh container-root in
the state dir's step5/, where step 3's namespaces run the command (default:
bash, interactive on a terminal).

--root packs another root than step 2's my-new-root; --gzip makes
dockercontainer.tar.gz.`,
		Example: `  sudo workshop step 5
  sudo workshop step 5 -- /bin/bash -c 'ls /'`,
		Args: commandAfterDash,
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireRootAndProc("step 5"); err != nil {
				return err
			}
			if _, err := parseNSFlag(f); err != nil {
				return err
			}
			if f.root != "" {
				if err := checkRootFlag(f.root); err != nil {
					return err
				}
			}
			if err := explainNow(); err != nil {
				return err
			}
			// Ctrl-C while packing or unpacking removes the half-made tar
			// or root, and workshop exits 128+n; once the command runs,
			// step 3 passes the signal on to it. (Step 5 itself says at
			// once that it is stopping, and only before the command runs.)
			defer holdSteps()()
			ctx, stop := catchSignals()
			defer stop()
			status, err := imagetar.Step(ctx, narrator(), imagetar.StepConfig{
				StateDir: global.stateDir,
				Root:     f.root,
				Args:     args,
				Gzip:     gz,
				Hostname: f.hostname,
				NS:       f.ns,
				Stdin:    os.Stdin,
				Stdout:   os.Stdout,
				Stderr:   os.Stderr,
				Progress: progressTerminal(),
			})
			if err != nil && exit.Status(err) > exit.SignalBase {
				return err // stopped before the container's command ran: said already
			}
			if sig, ok := caughtSignal(ctx); ok && err != nil {
				var ie *imagetar.InterruptedError
				if errors.As(err, &ie) {
					return interrupted(sig, ie.What)
				}
				return interrupted(sig, "step 5: "+err.Error())
			}
			if err != nil {
				return exit.Errorf(exit.ToolFailed, "step 5: %w", err)
			}
			if status != 0 {
				return exit.Code(status, nil)
			}
			return nil
		},
	}
	addRunFlags(c, &f, withRoot|withNamespaces)
	c.Flags().BoolVar(&gz, "gzip", false, "compress: make dockercontainer.tar.gz")
	addStep(stepInfo{N: 5, Name: "image-tar", Short: "tar the root into an image, unpack it elsewhere, run it from there", Cmd: c})
}

// progressTerminal is stderr when it is a terminal and the narration is
// on: where long packs and unpacks redraw a progress line.
func progressTerminal() io.Writer {
	if global.quiet {
		return nil
	}
	return imagetar.ProgressTo(os.Stderr)
}
