package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
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
	"golang.org/x/sys/unix"
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

// stopGrace is how long a container may take to end after workshop passed it
// SIGINT or SIGTERM before its whole cgroup is killed (docker stop waits 10s;
// a class has less time). A PID 1 with no handler ignores both signals.
const stopGrace = 3 * time.Second

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

// step4Run is one run of step 4: a step 3 container in a cgroup.
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

// ending is why the container's cgroup was killed, if workshop killed it.
type ending struct {
	mu  sync.Mutex
	why string // "" while nothing was killed
}

func (e *ending) set(why string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why != "" {
		return false
	}
	e.why = why
	return true
}

func (e *ending) get() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.why
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

	// Start leaves the child waiting on its pipe: nothing of the command
	// runs before Release, so the limits hold from its first instruction.
	c, err := namespaces.Start(n, namespaces.Config{
		Root: r.root, Args: r.args, Namespaces: r.ns, Hostname: r.hostname, ID: id,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return exit.Errorf(exit.ToolFailed, "step 4: %v", err)
	}
	cg, err := cgroups.New(n, id, r.limits)
	if err != nil {
		abortContainer(c)
		return err
	}
	rec.Pid, rec.Cgroups = c.Pid(), cg.Paths()
	rec.Save()
	if err := cg.Add(c.Pid()); err != nil {
		abortContainer(c)
		cg.Remove()
		return err
	}
	n.Note("pid %d is in %s before its command runs: the limits hold from its first instruction", c.Pid(), strings.Join(cg.Paths(), ", "))
	if err := c.Release(); err != nil {
		abortContainer(c)
		cg.Remove()
		return exit.Errorf(exit.ToolFailed, "step 4: %v", err)
	}

	var end ending
	stop := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		r.watch(cg, &end, stop)
	}()
	status, werr := c.Wait()
	close(stop)
	watchers.Wait()

	// Without a PID namespace the first process's children outlive it.
	if pids, _ := cg.Procs(); len(pids) > 0 {
		n.Note("%d process(es) outlived the container's first process: killing the whole cgroup", len(pids))
		cg.Kill()
	}
	st, serr := cg.Stats()
	if serr == nil {
		files := "v1"
		if st.Mode == cgroups.V2 {
			files = "v2"
		}
		n.Note("what the cgroup saw, read from its %s files before removing it:", files)
		st.Print(n.Writer())
	}
	rerr := cg.Remove()
	if werr != nil {
		return exit.Errorf(exit.ToolFailed, "step 4: %v", werr)
	}
	if rerr != nil {
		fmt.Fprintf(os.Stderr, "workshop: %v\n", rerr)
	}
	return r.verdict(status, st, end.get(), rerr)
}

// watch kills the whole cgroup when --timeout expires, or when the
// container has not ended stopGrace after workshop passed it SIGINT or
// SIGTERM (namespaces.Wait passes them on; a PID 1 without a handler
// ignores them). A second signal kills at once.
func (r *step4Run) watch(cg *cgroups.Cgroup, end *ending, stop <-chan struct{}) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigs)
	var expire <-chan time.Time
	if r.timeout > 0 {
		t := time.NewTimer(r.timeout)
		defer t.Stop()
		expire = t.C
	}
	var grace <-chan time.Time
	var got string
	kill := func(why string) {
		if end.set(why) {
			r.n.Note("%s: killing every process in the container's cgroup", why)
			if err := cg.Kill(); err != nil {
				r.n.Note("killing the cgroup failed: %v", err)
			}
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-expire:
			kill(fmt.Sprintf("--timeout %s expired", r.timeout))
		case s := <-sigs:
			name := unix.SignalName(s.(unix.Signal))
			if got != "" {
				kill(fmt.Sprintf("workshop got %s again", name))
				continue
			}
			got = name
			r.n.Note("if the container has not ended in %s, its whole cgroup is killed (send %s again to kill it now)", stopGrace, name)
			t := time.NewTimer(stopGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			kill(fmt.Sprintf("the container ignored %s for %s", got, stopGrace))
		}
	}
}

// verdict turns how the run ended into the step's exit status and sentence.
func (r *step4Run) verdict(status int, st cgroups.Stats, killedBecause string, removeErr error) error {
	n := r.n
	switch {
	case status == exit.OOMKilled && st.OOMKilled():
		what := "memory.oom_control says oom_kill"
		if st.Mode == cgroups.V2 {
			what = "memory.events says oom_kill"
		}
		return exit.Errorf(exit.OOMKilled, "the container was killed by its memory limit (--memory %s): "+
			"the kernel's OOM killer ended it when it could reclaim no more (%s %d); exit status 137 is 128 + SIGKILL",
			units.FormatSize(r.limits.Memory), what, st.OOMKills)
	case r.demo == "forkbomb" && killedBecause != "":
		if st.PidsRefused <= 0 {
			return exit.Errorf(1, "the fork bomb was not contained: pids.events counted no refused fork")
		}
		n.Note("the fork bomb was contained: pids.max held it to %d processes and refused %d forks; "+
			"the rest of the machine kept its processes, and %s", r.limits.Pids, st.PidsRefused, killedBecause)
		return nil
	case killedBecause != "":
		return exit.Errorf(status, "%s: workshop killed every process in the container's cgroup (exit status %d)", killedBecause, status)
	case status > exit.SignalBase:
		sig := unix.Signal(status - exit.SignalBase)
		n.Note("the command was killed by signal %d (%s), not by a limit: the cgroup counted no OOM kill", int(sig), unix.SignalName(sig))
	}
	if removeErr != nil && status == 0 {
		return exit.Code(exit.ToolFailed, nil)
	}
	if status != 0 {
		return exit.Code(status, nil)
	}
	return nil
}

// abortContainer kills a container that never got to run and collects it.
func abortContainer(c *namespaces.Container) {
	c.Kill(unix.SIGKILL)
	c.Wait()
}
