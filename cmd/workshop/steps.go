package main

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	lessons "github.com/workshop-dev/workshop"
)

// stepInfo describes one step of the walkthrough. Each step's file registers
// its own with addStep, so that steps can be written in parallel.
type stepInfo struct {
	N     int
	Name  string
	Short string
	// Cmd is the step's command; its Use must be the step number.
	Cmd *cobra.Command
}

var stepList []stepInfo

func addStep(s stepInfo) { stepList = append(stepList, s) }

func sortedSteps() []stepInfo {
	sort.Slice(stepList, func(i, j int) bool { return stepList[i].N < stepList[j].N })
	return stepList
}

func init() {
	subcommands = append(subcommands, newStepsCmd(), newStepCmd())
}

func newStepsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "steps",
		Short: "List the steps: number, name, one line each",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			for _, s := range sortedSteps() {
				fmt.Fprintf(c.OutOrStdout(), "%d  %-12s %s\n", s.N, s.Name, s.Short)
			}
			return nil
		},
	}
}

func newStepCmd() *cobra.Command {
	step := &cobra.Command{
		Use:   "step N [flags] [-- CMD ARGS…]",
		Short: "Run step N of the walkthrough for real (see 'workshop steps')",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("which step? give a number: 'workshop step 1' (see 'workshop steps')")
			}
			return unknownStep(args[0])
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	for _, s := range sortedSteps() {
		s := s
		run := s.Cmd.RunE
		// --explain prints the lesson of the step first, from LESSONS.md.
		s.Cmd.RunE = func(c *cobra.Command, args []string) error {
			if global.explain && !global.quiet {
				text, err := lessons.Lesson(s.N)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.ErrOrStderr(), text)
			}
			return run(c, args)
		}
		step.AddCommand(s.Cmd)
	}
	return step
}

// unknownStep is the sentence for "workshop step 9".
func unknownStep(arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return usageError("%q is not a step number: steps are numbered 1 to %d (see 'workshop steps')", arg, len(stepList))
	}
	return usageError("there is no step %d: steps are numbered 1 to %d (see 'workshop steps')", n, len(stepList))
}
