package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func init() {
	subcommands = append(subcommands, newDoctorCmd())
}

// doctorFailed is doctor's exit status when a check failed: a finding, not
// the tool failing (125), and so the plain "no" of test(1) and grep(1).
const doctorFailed = 1

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "What this machine supports, and what to do about what it lacks",
		Long: `doctor checks what workshop's steps need on this machine, trying each
feature for real where it can: root, the kernel, each of the seven namespaces,
user namespaces, cgroups (v1, v2 or hybrid) and the memory, cpu and pids
limits, overlayfs, pivot_root, strace and busybox, free space in the state dir.

Each check prints ok, warn, fail or skip, and what to do when it is not ok.
--explain says why each check matters. The checks are not a lesson, and
their system calls are not narrated: a child in each namespace, a throwaway
cgroup per controller, an overlay, a pivot_root into a small tmpfs, each
removed once tried (strace -f shows them).

Exit status: 0 when everything the steps need is there (warnings do not
fail), 1 when a check failed, 125 on a bad command line.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			// The checks make throwaway cgroups and directories: a Ctrl-C
			// lets the check under way remove its own before doctor stops.
			interrupt := make(chan os.Signal, 1)
			exit.Notify(interrupt, exit.StopSignals...)
			defer exit.Stop(interrupt)

			h := doctor.NewHost(global.stateDir, stepCgroups{})
			opts := doctor.Options{
				Explain:   global.explain,
				Color:     sys.ColorWanted(global.noColor) && term.IsTerminal(int(os.Stdout.Fd())),
				Interrupt: interrupt,
			}
			passed, err := doctor.Run(c.OutOrStdout(), h, doctor.Checks(), opts)
			var stopped *doctor.Interrupted
			if errors.As(err, &stopped) {
				if sig, ok := stopped.Signal.(unix.Signal); ok {
					return exit.Code(exit.SignalBase+int(sig), err)
				}
			}
			if err != nil {
				return err
			}
			if !passed {
				return exit.Code(doctorFailed, nil)
			}
			return nil
		},
	}
}

// stepCgroups answers doctor's cgroup questions with step 4's own code
// (internal/doctor may not import a step): the layout as step 4 reads it,
// and a limit tried the way step 4 sets one.
type stepCgroups struct{}

func (stepCgroups) Layout() (doctor.CgroupLayout, error) {
	mode, limits, err := cgroups.Supported()
	if err != nil {
		return doctor.CgroupLayout{}, err
	}
	describe := mode.Describe()
	if root := cgroups.TreeRoot(); root != cgroups.Root {
		describe += " Here the tree is " + root + ": this hybrid machine's v1 hierarchies hold none of the limit controllers " +
			"(it was booted with cgroup_no_v1), so workshop makes its groups in the unified tree, as on cgroup v2."
	}
	return doctor.CgroupLayout{Mode: mode.String(), Describe: describe, Limits: limits}, nil
}

// probeLimits are small limits, one per controller, for a group that holds
// no process.
var probeLimits = map[string]cgroups.Limits{
	"memory": {Memory: 64 << 20},
	"cpu":    {CPUs: 0.5},
	"pids":   {Pids: 64},
}

func (stepCgroups) TryLimit(controller string) (doctor.Tried, error) {
	l, ok := probeLimits[controller]
	if !ok {
		return doctor.Tried{}, fmt.Errorf("no limit to try for the %s controller", controller)
	}
	cg, err := cgroups.New(sys.Discard(), fmt.Sprintf("doctor-%d-%s", os.Getpid(), controller), l)
	if err != nil {
		return doctor.Tried{}, err
	}
	dir, _ := cg.Dir(controller)
	err = cg.Remove()
	return doctor.Tried{Dir: filepath.Dir(dir), SwitchedOn: cg.SwitchedOn()}, err
}
