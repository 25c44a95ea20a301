package main

import (
	"errors"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/units"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
)

func init() {
	var f runFlags
	var demo string
	c := &cobra.Command{
		Use:   "4 [--memory SIZE] [--pids N] [--cpus N] [--timeout DURATION] [--demo forkbomb|memhog] [--root DIR] [--ns LIST] [--hostname NAME] [-- CMD ARGS…]",
		Short: "cgroups: limit the container's memory, CPU and processes, so it cannot starve the host",
		Long: `Step 4 is step 3 plus a cgroup. It tells this machine's cgroup layout (v1, v2
or hybrid), makes the container's group under a 'workshop' parent, writes each
limit into its file by hand (memory.max or memory.limit_in_bytes, cpu.max or
cpu.cfs_quota_us, pids.max), puts the container's first process in it before
its command runs, and after the run shows what the group saw: peak memory,
OOM kills, forks refused, CPU time. The group is removed however the run ends.

--memory 80M (K, M, G), --pids 64, --cpus 0.5 (half a core), --timeout 10s
(then every process in the group is killed).
--demo forkbomb runs a fork bomb, contained by pids.max and ended by its
timeout; --demo memhog runs a memory hog that the memory limit kills (exit 137).`,
		Example: `  sudo workshop step 4 --memory 80M -- /bin/bash
  sudo workshop step 4 --demo forkbomb
  sudo workshop step 4 --demo memhog
  sudo workshop step 4 --memory 30M --pids 64 --cpus 0.5 --timeout 10s -- /bin/bash -c 'echo hi'`,
		Args: commandAfterDash,
		RunE: func(c *cobra.Command, args []string) error {
			if demo != "" {
				if !slices.Contains(cgroups.Demos(), demo) {
					return usageError("--demo %q: the demos are %s", demo, strings.Join(cgroups.Demos(), " and "))
				}
				if len(args) > 0 {
					return usageError("--demo %s runs its own command: leave out the command after --", demo)
				}
			}
			limits, timeout, err := parseLimitFlags(f)
			if err != nil {
				return err
			}
			if _, err := parseNSFlag(f); err != nil {
				return err
			}
			if err := requireRootAndProc("step 4"); err != nil {
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
			defer holdSteps()()
			err = cgroups.Step(narrator(), cgroups.StepConfig{
				StateDir: global.stateDir,
				Root:     f.root,
				Args:     args,
				Demo:     demo,
				NS:       f.ns,
				Hostname: f.hostname,
				Limits:   limits,
				Timeout:  timeout,
				Stdin:    os.Stdin,
				Stdout:   os.Stdout,
				Stderr:   os.Stderr,
			})
			var coded *exit.Error
			if err != nil && !errors.As(err, &coded) {
				return exit.Errorf(exit.ToolFailed, "step 4: %w", err)
			}
			return err
		},
	}
	addRunFlags(c, &f, withRoot|withNamespaces|withLimits)
	c.Flags().StringVar(&demo, "demo", "", "run a demo instead of a command: forkbomb (contained by pids.max) or memhog (killed by the memory limit)")
	addStep(stepInfo{N: 4, Name: "cgroups", Short: "cgroups: limit memory, CPU and processes, so a container cannot starve the host", Cmd: c})
}

// parseLimitFlags reads the resource flags (--memory --pids --cpus
// --timeout, as typed); a bad one is one sentence, 125.
func parseLimitFlags(f runFlags) (cgroups.Limits, time.Duration, error) {
	var l cgroups.Limits
	var err error
	if f.memory != "" {
		if l.Memory, err = units.ParseSize(f.memory); err != nil {
			return l, 0, usageError("--memory %s: %v", f.memory, err)
		}
	}
	if f.pids != "" {
		if l.Pids, err = units.ParsePids(f.pids); err != nil {
			return l, 0, usageError("--pids %s: %v", f.pids, err)
		}
	}
	if f.cpus != "" {
		if l.CPUs, err = units.ParseCPUs(f.cpus); err != nil {
			return l, 0, usageError("--cpus %s: %v", f.cpus, err)
		}
	}
	var timeout time.Duration
	if f.timeout != "" {
		if timeout, err = units.ParseTimeout(f.timeout); err != nil {
			return l, 0, usageError("--timeout %s: %v", f.timeout, err)
		}
	}
	// Before anything is made (a root filled, the base image built).
	return l, timeout, l.Check()
}
