package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"github.com/workshop-dev/workshop/steps/lab"
)

func init() { subcommands = append(subcommands, newLabCmd()) }

// notDone is the exit status of a check whose exercise is not done yet: the
// tool did not fail (125), the student's work is just not finished.
const notDone = 1

func newLabCmd() *cobra.Command {
	var dir, cgroup string
	var solution bool
	c := &cobra.Command{
		Use:   "lab N [check]",
		Short: "Print step N's exercise; 'check' looks at your own work",
		Long: `workshop lab N prints the exercise of step N, from LESSONS.md.
workshop lab N check looks at the machine to see whether you did it, by hand,
with the walkthrough's own tools: it says what is right, what is missing and a
hint, and exits 0 only when the exercise is done. To see that a root works,
it runs the root's own programs chrooted into it, as the host's nobody in
namespaces of their own; that checking is not a lesson, and its system calls
are not narrated.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("give a step number, 1 to 6: 'workshop lab 1' prints step 1's exercise, 'workshop lab 1 check' looks at your work")
			}
			if len(args) > 2 {
				return usageError("%q: lab takes a step number and 'check', and nothing after them: workshop lab %s check", args[2], hint.Quote(args[0]))
			}
			if len(args) == 2 && args[0] == "check" {
				// The order the words are said in ("lab check 1").
				return usageError("the step number comes first: workshop lab %s check", args[1])
			}
			if len(args) == 2 && args[1] != "check" {
				return usageError("%q: the only word after the step number is 'check'", args[1])
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			n, err := strconv.Atoi(strings.TrimSpace(args[0]))
			if err != nil {
				return usageError("%q is not a step number: steps are numbered 1 to 6 (see 'workshop steps')", args[0])
			}
			if n < 1 || n > 6 {
				return usageError("there is no step %d: steps are numbered 1 to 6 (see 'workshop steps')", n)
			}
			if len(args) == 1 && solution {
				// The solution is told item by item, beside what the check
				// finds missing.
				return usageError("--solution goes with check, which shows it beside what is missing: workshop lab %d check --solution", n)
			}
			if len(args) == 1 {
				text, err := lessons.Subsection(n, "Exercise")
				if err != nil {
					return err
				}
				// Its commands with the --state-dir given (lab 6 starts
				// a container the check looks for there).
				fmt.Fprint(c.OutOrStdout(), lessons.ForTerminal(hint.Rewrite(text)))
				fmt.Fprintln(c.OutOrStdout(), hint.Rewrite(fmt.Sprintf("\nWhen you are done: sudo workshop lab %d check", n)))
				return nil
			}
			// A top-level group's name: not empty (an unset variable), not a
			// path that would leave the hierarchy (../memory).
			if c.Flags().Changed("cgroup") && (cgroup == "" || strings.Contains(cgroup, "/") || cgroup == "." || cgroup == "..") {
				return usageError("--cgroup %q: give the name of the group you made at the top of the hierarchy, e.g. sandbox", cgroup)
			}
			if hint.Quote(cgroup) != cgroup {
				// The check's hints and solution put the name in
				// commands to paste, as it is.
				return usageError("--cgroup %q: the check's hints put the name in commands to paste as it is, where a shell would split it or read its symbols: name your group with letters, digits and . _ - only, e.g. sandbox", cgroup)
			}
			if err := requireRootAndProc("checking a lab"); err != nil {
				return err
			}
			// Ctrl-C kills a program the check runs and removes what the
			// check made (lab 5's unpacked copy of the archive).
			ctx, stop := catchSignals()
			defer stop()
			report, err := lab.Check(n, lab.Options{Ctx: ctx, Dir: dir, StateDir: global.stateDir, Cgroup: cgroup, LocateCgroup: locateCgroup})
			if sig, ok := caughtSignal(ctx); ok {
				return interrupted(sig, "the check stopped, and what it made was removed")
			}
			if err != nil {
				return err
			}
			switch n {
			case 4:
				// Step 4's exercise is a cgroup, not files here.
				fmt.Fprintf(c.OutOrStdout(), "Step 4's exercise, the cgroup %s:\n", sys.OneLine(cgroup))
			case 6:
				// Step 6's exercise is a running container, not files here.
				fmt.Fprintf(c.OutOrStdout(), "Step 6's exercise, on the containers of %s:\n", sys.OneLine(global.stateDir))
			default:
				fmt.Fprintf(c.OutOrStdout(), "Step %d's exercise, in %s:\n", n, sys.OneLine(displayDir(dir)))
				if elsewhere(dir) {
					// Its hints name my-new-root and the like as they
					// are seen from there.
					fmt.Fprintf(c.OutOrStdout(), "(the paths in its hints are relative to that directory: cd %s before you paste one)\n", sys.OneLine(hint.Quote(dir)))
				}
			}
			// The flag the check looked at, repeated in the command its
			// report suggests (lab 4 reads no --dir, the others no
			// --cgroup, and lab 6 neither).
			switch {
			case n == 4 && c.Flags().Changed("cgroup"):
				report.Flags = " --cgroup " + hint.Quote(cgroup)
			case n != 4 && n != 6 && elsewhere(dir):
				// Whole: the header says to cd there before pasting.
				abs, err := filepath.Abs(dir)
				if err != nil {
					abs = dir
				}
				report.Flags = " --dir " + hint.Quote(abs)
			}
			report.Print(c.OutOrStdout(), solution)
			// A stop signal that came as the check ended is still said,
			// with its 128+n (the catching lasts until this returns).
			if sig, ok := caughtSignal(ctx); ok {
				return interrupted(sig, "it came as the check ended: its report above is whole")
			}
			if !report.Done() {
				return exit.Code(notDone, nil)
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "the directory you did the exercise in")
	c.Flags().BoolVar(&solution, "solution", false, "with check: show one way to do it")
	c.Flags().StringVar(&cgroup, "cgroup", "sandbox", "step 4: the name of the cgroup you made")
	return c
}

// locateCgroup tells lab 4 where this host keeps a top-level cgroup.
func locateCgroup(controller, name string) (string, bool, error) {
	dir, mode, err := cgroups.Locate(controller, name)
	return dir, mode == cgroups.V2, err
}

// elsewhere reports whether the --dir d is another directory than the
// current one.
func elsewhere(d string) bool {
	here, err := os.Stat(".")
	there, terr := os.Stat(d)
	return err == nil && terr == nil && !os.SameFile(here, there)
}

func displayDir(d string) string {
	if d == "." {
		return "this directory"
	}
	return d
}
