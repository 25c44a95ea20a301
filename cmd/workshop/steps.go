package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/state"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
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
		Args:  noArgs,
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
		s.Cmd.RunE = withLesson(s.N, s.Cmd.RunE)
		step.AddCommand(s.Cmd)
	}
	return step
}

// holdSteps holds the steps lock (state.HoldSteps) for the rest of a
// step's run, and returns its release: steps 1 to 5 make and use their
// roots in the state directory, and `workshop clean` must not remove one
// under them. Each step calls it once its flags are checked (a mistake
// makes nothing), before it makes anything. A state directory not there
// yet is made first, narrated, for the lock file to be in: otherwise
// nothing would be held while the step made the directory and its root,
// and a clean meanwhile removed them (as root only: otherwise the step
// has said it needs root already). The lock itself, as lockNames's of
// step 6, is bookkeeping, not a lesson: not narrated.
func holdSteps() (release func()) {
	if _, err := os.Stat(global.stateDir); errors.Is(err, fs.ErrNotExist) && os.Geteuid() == 0 {
		// Made as step 1 makes its root: 0755 whatever the shell's umask
		// (step 3's --map-users root, not the host's, must reach the
		// roots in it), each mkdir narrated. A failure is the step's to
		// meet and say.
		chroot.MakeRoot(narrator(), global.stateDir)
	}
	return state.HoldSteps(global.stateDir)
}

// withLesson makes run print the lesson of step n first, from LESSONS.md,
// under --explain: every `step N`, and `full run`, which is step 6. First
// of what the step does, not of what it says: the lesson waits until the
// step has checked its flags and calls explainNow, so
// that a mistake is one sentence, not one after the 300 lines of a
// lesson.
func withLesson(n int, run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if global.explain && !global.quiet {
			pendingLesson = n
			defer func() { pendingLesson = 0 }()
		}
		return run(c, args)
	}
}

// pendingLesson is the step whose lesson explainNow prints, or 0.
var pendingLesson int

// explainNow prints the pending lesson (withLesson), once: a step calls it
// when its flags are checked, before it makes or prints anything.
func explainNow() error {
	n := pendingLesson
	if n == 0 {
		return nil
	}
	pendingLesson = 0
	text, err := lessons.Lesson(n)
	if err != nil {
		return err
	}
	// Framed, so that the lesson's transcripts (another run, on another
	// machine) are never taken for this run's calls.
	narrator().Lesson(n, lessons.ForTerminal(text))
	return nil
}

// unknownStep is the sentence for "workshop step 9".
func unknownStep(arg string) error {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil {
		return usageError("%q is not a step number: steps are numbered 1 to %d (see 'workshop steps')", arg, len(stepList))
	}
	if n >= 1 && n <= len(stepList) { // "01", "+1", " 1": a step, written another way
		return usageError("%q: write the step's number as %d: 'workshop step %d'", arg, n, n)
	}
	return usageError("there is no step %d: steps are numbered 1 to %d (see 'workshop steps')", n, len(stepList))
}
