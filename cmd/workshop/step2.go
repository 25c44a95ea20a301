package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
)

func init() {
	var f runFlags
	var bins []string
	c := &cobra.Command{
		Use:   "2 [--root DIR] [--bin PROGRAM]… [-- CMD ARGS…]",
		Short: "copy bash and its libraries into the root (ldd + cp), then chroot into it",
		Long: `Step 2 fills the root (my-new-root) with /bin/bash, the program of the command
and each --bin, with the libraries ldd lists for them, then runs the command in
the root with chroot, as the walkthrough does by hand. With no command it runs
bash: interactive on a terminal, reading commands from stdin otherwise.

--bin takes a name on the host's PATH (ls) or a path (/bin/busybox).`,
		Example: `  sudo workshop step 2
  sudo workshop step 2 -- /bin/bash -c pwd
  sudo workshop step 2 --bin ls --bin cat -- /bin/ls /`,
		Args: commandAfterDash,
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireRoot("step 2"); err != nil {
				return err
			}
			root := f.root
			if root == "" {
				root = filepath.Join(global.stateDir, "my-new-root")
			}
			if err := checkRootFlag(root); err != nil {
				return err
			}
			for _, b := range bins {
				if _, err := lddcopy.Lookup(b); err != nil {
					if np := (*lddcopy.NotProgramError)(nil); errors.As(err, &np) {
						return usageError("--bin %v, and not copied", np)
					}
					if fi, serr := os.Stat(b); serr == nil && strings.Contains(b, "/") {
						what := "a directory"
						if !fi.IsDir() {
							what = "not a regular file"
						}
						return usageError("--bin %s: it is %s on the host, not a program", b, what)
					}
					return usageError("--bin %s: no such program on the host (give a name on the PATH, or a path)", b)
				}
			}
			if err := explainNow(); err != nil {
				return err
			}
			defer holdSteps()()
			status, err := lddcopy.Step(narrator(), root, bins, args, os.Stdin, os.Stdout, os.Stderr)
			var nf *lddcopy.NotFoundError
			switch {
			case errors.As(err, &nf):
				return usageError("%v", err)
			case err != nil:
				return err
			case status != 0:
				return exit.Code(status, nil)
			}
			return nil
		},
	}
	// Flags stop at the first word that is not one: in `step 2 ls -l`,
	// -l is not read as workshop's, and the missing -- is the sentence
	// (commandAfterDash), not "unknown shorthand flag: 'l'".
	c.Flags().SetInterspersed(false)
	addRunFlags(c, &f, withRoot)
	c.Flags().StringArrayVar(&bins, "bin", nil, "also copy this program (a name on the host's PATH, or a path) and what it needs")
	addStep(stepInfo{N: 2, Name: "ldd-copy", Short: "copy bash and its libraries into the root with ldd and cp, then chroot", Cmd: c})
}
