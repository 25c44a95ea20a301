package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
)

// The demos of step 4: each is a shell one-liner run in the container, with
// the limits that contain it unless the student gives others.
var step4Demos = map[string]struct {
	args     []string
	bins     []string // what the root needs for it
	defaults step4Flags
	about    string
}{
	// PID 1 ends in sleep, which never reaps: the bomb's exited processes
	// stay as zombies, and a zombie still holds its pid, so pids.max
	// counts them too. The bomb is contained, then --timeout ends it.
	"forkbomb": {
		args:     []string{"/bin/bash", "-c", "bomb() { bomb | bomb & }; bomb; exec sleep 3600"},
		bins:     []string{"bash", "sleep"},
		defaults: step4Flags{pids: "64", cpus: "0.5", memory: "256M", timeout: "10s"},
		about:    "a fork bomb, bomb() { bomb | bomb & }: each copy starts two more, forever",
	},
	// Doubling a string: bash holds the old and the new copy, so it needs
	// more memory at each turn until the limit's OOM kill.
	"memhog": {
		args: []string{"/bin/bash", "-c", `s=x; while :; do s=$s$s; ` +
			`if [ ${#s} -ge 1048576 ]; then echo "holding $((${#s} / 1048576))M of memory"; fi; done`},
		bins:     []string{"bash"},
		defaults: step4Flags{memory: "80M", timeout: "60s"},
		about:    "a memory hog: a string that doubles in size at each turn",
	},
}

// step4Flags are the resource flags as typed.
type step4Flags struct{ memory, pids, cpus, timeout string }

func init() {
	var f runFlags
	var demo string
	c := &cobra.Command{
		Use:   "4 [--memory SIZE] [--pids N] [--cpus N] [--timeout DURATION] [--demo forkbomb|memhog] [-- CMD ARGS…]",
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
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && c.ArgsLenAtDash() != 0 {
				return usageError("put the command after --: workshop step 4 [flags] -- %s", strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			given := step4Flags{memory: f.memory, pids: f.pids, cpus: f.cpus, timeout: f.timeout}
			var bins []string
			if demo != "" {
				d, ok := step4Demos[demo]
				if !ok {
					return usageError("--demo %q: the demos are forkbomb and memhog", demo)
				}
				if len(args) > 0 {
					return usageError("--demo %s runs its own command: leave out the command after --", demo)
				}
				args, bins = d.args, d.bins
				given = given.or(d.defaults)
			}
			limits, timeout, err := parseStep4Flags(given)
			if err != nil {
				return err
			}
			if _, err := namespaces.ParseNamespaces(f.ns); err != nil {
				return usageError("--ns: %v", err)
			}
			if err := requireRoot("step 4"); err != nil {
				return err
			}
			root := f.root
			if root == "" {
				root = filepath.Join(global.stateDir, "my-new-root")
			}
			if err := checkRootFlag(root); err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{lddcopy.Shell}
			}
			n := narrator()
			if err := fillRoot(n, root, args[0], bins); err != nil {
				return err
			}
			run := step4Run{n: n, root: root, args: args, ns: f.ns, hostname: f.hostname,
				limits: limits, timeout: timeout, demo: demo}
			return run.run()
		},
	}
	addRunFlags(c, &f, withRoot|withNamespaces|withLimits)
	c.Flags().StringVar(&demo, "demo", "", "run a demo instead of a command: forkbomb (contained by pids.max) or memhog (killed by the memory limit)")
	addStep(stepInfo{N: 4, Name: "cgroups", Short: "cgroups: limit memory, CPU and processes, so a container cannot starve the host", Cmd: c})
}

// or fills the flags the student left empty from d.
func (f step4Flags) or(d step4Flags) step4Flags {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return step4Flags{memory: pick(f.memory, d.memory), pids: pick(f.pids, d.pids), cpus: pick(f.cpus, d.cpus), timeout: pick(f.timeout, d.timeout)}
}

// parseStep4Flags reads the resource flags; a bad one is one sentence, 125.
func parseStep4Flags(f step4Flags) (cgroups.Limits, time.Duration, error) {
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
		timeout, err = time.ParseDuration(f.timeout)
		if err != nil || timeout <= 0 {
			return l, 0, usageError("--timeout %s: give a duration such as 10s, 2m or 1m30s", f.timeout)
		}
	}
	return l, timeout, nil
}

// fillRoot runs step 2 on the root when it lacks the command or the demo's
// programs, so that step 4 works on a fresh machine.
func fillRoot(n *sys.Narrator, root, command string, bins []string) error {
	var want []string
	seen := map[string]bool{}
	for _, b := range append([]string{lddcopy.Shell, command}, bins...) {
		if inRoot(root, b) {
			continue
		}
		host, err := lddcopy.Lookup(b)
		if err != nil {
			continue // not on the host either: the container says 127
		}
		real := host
		if r, err := filepath.EvalSymlinks(host); err == nil {
			real = r // /bin/bash and /usr/bin/bash on a merged-/usr host
		}
		if !seen[real] {
			seen[real] = true
			want = append(want, host)
		}
	}
	if len(want) == 0 {
		return nil
	}
	n.Note("the root %s lacks %s: step 2 copies it in", root, strings.Join(want, ", "))
	if err := lddcopy.Populate(n, root, want); err != nil {
		return exit.Errorf(exit.ToolFailed, "fill the root %s: %v", root, err)
	}
	return nil
}

// inRoot says whether the root has the program: a path as it is, a name on
// the container's PATH.
func inRoot(root, prog string) bool {
	if strings.Contains(prog, "/") {
		_, err := os.Stat(filepath.Join(root, prog))
		return err == nil
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if _, err := os.Stat(filepath.Join(root, dir, prog)); err == nil {
			return true
		}
	}
	return false
}

// step4Run is one run of step 4: a step 3 container in a cgroup
// (cgroups.Contained, which step 6 reuses).
type step4Run struct {
	n        *sys.Narrator
	root     string
	args     []string
	ns       []string
	hostname string
	limits   cgroups.Limits
	timeout  time.Duration
	demo     string
}

func (r *step4Run) run() error {
	n := r.n
	mode, err := cgroups.Detect()
	if err != nil {
		return err
	}
	n.Note("this machine's cgroups are %s. %s", mode, mode.Describe())
	if r.demo != "" {
		n.Note("the demo: %s", step4Demos[r.demo].about)
	}

	id := ids.New()
	rec := &state.Run{ID: id, Name: id, Step: 4, Command: r.args}
	if err := state.New(global.stateDir, rec); err != nil {
		return exit.Errorf(exit.ToolFailed, "%v", err)
	}
	defer rec.Forget()

	run := cgroups.Contained{
		Container: namespaces.Config{
			Root: r.root, Args: r.args, Namespaces: r.ns, Hostname: r.hostname, ID: id,
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		},
		Limits:  r.limits,
		Timeout: r.timeout,
		Record:  rec,
	}
	out, err := run.Run(n)
	var coded *exit.Error
	switch {
	case errors.As(err, &coded):
		return err
	case err != nil:
		return exit.Errorf(exit.ToolFailed, "step 4: %v", err)
	}
	if out.StatsErr == nil {
		files := "v1"
		if out.Stats.Mode == cgroups.V2 {
			files = "v2"
		}
		n.Note("what the cgroup saw, read from its %s files just before it was removed:", files)
		out.Stats.Print(n.Writer())
	}
	// The fork bomb ends by its timeout: that is the demo going as the
	// lesson says, not a failure.
	if r.demo == "forkbomb" && out.KilledBecause != "" && !out.Stats.OOMKilled() {
		if out.Stats.PidsRefused <= 0 {
			return exit.Errorf(1, "the fork bomb was not contained: pids.events counted no refused fork")
		}
		n.Note("the fork bomb was contained: pids.max held it to %d processes and refused %d forks; "+
			"the rest of the machine kept its processes, and %s", r.limits.Pids, out.Stats.PidsRefused, out.KilledBecause)
		if out.RemoveErr != nil {
			return exit.Errorf(exit.ToolFailed, "could not remove the container's cgroup: %v ('workshop clean' will retry)", out.RemoveErr)
		}
		return nil
	}
	return out.Verdict(n, r.limits)
}
