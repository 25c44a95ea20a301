package cgroups

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	"golang.org/x/sys/unix"
)

// StepConfig is what `workshop step 4` is given.
type StepConfig struct {
	StateDir string   // where the run is recorded, and step 2's my-new-root
	Root     string   // the container's root; "" is <StateDir>/my-new-root
	Args     []string // the command; nil is bash (or the demo's command)
	// Demo is "", or one of Demos(): a command of its own, with limits
	// that contain it where the student gave none.
	Demo     string
	NS       []string // the namespaces, as step 3 names them; nil is all seven
	Hostname string
	Limits   Limits        // a zero field is no limit (or the demo's)
	Timeout  time.Duration // 0 is none (or the demo's)

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// demo is one of step 4's demos: a shell one-liner run in the container,
// with the limits that contain it unless the student gives others.
type demo struct {
	args     []string
	programs []string // what the root needs for it, besides args[0]
	limits   Limits
	timeout  time.Duration
	about    string
}

var demos = map[string]demo{
	// PID 1 ends in sleep, which never reaps: the bomb's exited processes
	// stay as zombies, and a zombie still holds its pid, so pids.max
	// counts them too. The bomb is contained, then the timeout ends it.
	"forkbomb": {
		args:     []string{"/bin/bash", "-c", "bomb() { bomb | bomb & }; bomb; exec sleep 3600"},
		programs: []string{"sleep"},
		limits:   Limits{Pids: 64, CPUs: 0.5, Memory: 256 << 20},
		timeout:  10 * time.Second,
		about:    "a fork bomb, bomb() { bomb | bomb & }: each copy starts two more, forever",
	},
	// Doubling a string: bash holds the old and the new copy, so it needs
	// more memory at each turn until the limit's OOM kill.
	"memhog": {
		args: []string{"/bin/bash", "-c", `s=x; while :; do s=$s$s; ` +
			`if [ ${#s} -ge 1048576 ]; then echo "holding $((${#s} / 1048576))M of memory"; fi; done`},
		limits:  Limits{Memory: 80 << 20},
		timeout: 60 * time.Second,
		about:   "a memory hog: a string that doubles in size at each turn",
	},
}

// Demos are the names of step 4's demos, sorted.
func Demos() []string {
	names := make([]string, 0, len(demos))
	for name := range demos {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// or fills the limits l leaves at zero from d.
func (l Limits) or(d Limits) Limits {
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.Pids == 0 {
		l.Pids = d.Pids
	}
	if l.CPUs == 0 {
		l.CPUs = d.CPUs
	}
	return l
}

// Step is `workshop step 4`: step 3's container in a cgroup of its own, with
// the limits, recorded so that `workshop ps` lists it and `workshop clean`
// finds what a killed run left. It fills the root with step 2 when the root
// lacks the command, tells the machine's cgroup layout, runs the container
// (Contained), prints what the group saw, and returns the run's verdict:
// nil, or an error that carries the exit status (the command's own, 137 for
// the memory limit, 125 when the group could not be removed).
func Step(n *sys.Narrator, cfg StepConfig) error {
	// The stop signals (exit.StopSignals: SIGINT, SIGTERM, SIGHUP,
	// SIGQUIT) stay caught from here until the record is gone: with a
	// channel registered, Go's default action (die at once) is off,
	// so a Ctrl-C while the root is filled, the group made or removed, or
	// the record written never leaves half of them behind. Contained.Run
	// reads the same channel (so no signal falls between two of them): one
	// that came before the container's command runs stops the run, one that
	// comes while it runs is passed on to it.
	interrupted := make(chan os.Signal, 4)
	exit.Notify(interrupted, exit.StopSignals...)
	defer exit.Stop(interrupted)

	root := cfg.Root
	if root == "" {
		root = filepath.Join(cfg.StateDir, "my-new-root")
	}
	args, limits, timeout := cfg.Args, cfg.Limits, cfg.Timeout
	var d demo
	if cfg.Demo != "" {
		var ok bool
		if d, ok = demos[cfg.Demo]; !ok {
			return fmt.Errorf("there is no demo %q: the demos are %v", cfg.Demo, Demos())
		}
		if len(args) > 0 {
			return fmt.Errorf("the demo %s runs its own command, not %q", cfg.Demo, args)
		}
		args, limits = d.args, limits.or(d.limits)
		if timeout == 0 {
			timeout = d.timeout
		}
	}
	if len(args) == 0 {
		args = []string{lddcopy.Shell}
	}
	// The command (run by the path step 2 gave it, if the container's PATH
	// would not find it), then what the demo runs.
	command, err := namespaces.EnsureCommand(n, root, args[0])
	if err != nil {
		return fmt.Errorf("fill the root %s with step 2: %w", root, err)
	}
	args = append([]string{command}, args[1:]...)
	for _, prog := range d.programs {
		if _, err := namespaces.EnsureCommand(n, root, prog); err != nil {
			return fmt.Errorf("fill the root %s with step 2: %w", root, err)
		}
	}

	mode, err := Detect()
	if err != nil {
		return err
	}
	n.Note("this machine's cgroups are %s. %s", mode, mode.Describe())
	if cfg.Demo != "" {
		n.Note("the demo: %s", d.about)
	}
	if err := stopIfInterrupted(interrupted); err != nil {
		return err
	}

	id := ids.New()
	rec := &state.Run{ID: id, Name: id, Step: 4, Command: args}
	if err := state.New(cfg.StateDir, rec); err != nil {
		return exit.Errorf(exit.ToolFailed, "%v", err)
	}
	run := Contained{
		Container: namespaces.Config{
			Root: root, Args: args, Namespaces: cfg.NS, Hostname: cfg.Hostname, ID: id,
			Stdin: cfg.Stdin, Stdout: cfg.Stdout, Stderr: cfg.Stderr,
		},
		Limits:      limits,
		Timeout:     timeout,
		Record:      rec,
		Interrupted: interrupted,
	}
	out, err := run.Run(n)
	if kerr := keepOrForget(n, rec, out.RemoveErr); kerr != nil {
		return kerr
	}
	if err != nil {
		if out.RemoveErr != nil {
			n.Note("could not remove the container's cgroup: %v ('workshop clean' will retry)", out.RemoveErr)
		}
		return err
	}

	if out.StatsErr == nil {
		files := "v1"
		if out.Stats.Mode == V2 {
			files = "v2"
		}
		n.Note("what the cgroup saw, read from its %s files just before it was removed:", files)
		out.Stats.Print(n.Writer())
	}
	// The fork bomb ends by its timeout: that is the demo going as the
	// lesson says, not a failure, once pids.max refused forks. With none
	// refused, the bomb never reached the limit (a large --pids, under
	// half a CPU, on a slow machine): the timeout alone ended it, as it
	// ends any run.
	if cfg.Demo == "forkbomb" && out.TimedOut && !out.Stats.OOMKilled() {
		if out.Stats.PidsRefused == 0 {
			n.Note("pids.events counted no refused fork: pids.max (%d) never had to refuse one before the timeout (%s) ended the fork bomb; "+
				"with a lower --pids, or a longer --timeout, the limit shows at work", limits.Pids, timeout)
			return out.Verdict(n, limits)
		}
		if out.Stats.PidsRefused < 0 {
			n.Note("pids.events could not be read: whether pids.max refused forks is not known")
			return out.Verdict(n, limits)
		}
		n.Note("the fork bomb was contained: pids.max held it to at most %d processes at a time and refused %d forks; "+
			"the rest of the machine kept its processes, and %s", limits.Pids, out.Stats.PidsRefused, out.KilledBecause)
		if out.RemoveErr != nil {
			return exit.Errorf(exit.ToolFailed, "could not remove the container's cgroup: %v ('workshop clean' will retry)", out.RemoveErr)
		}
		return nil
	}
	return out.Verdict(n, limits)
}

// stopIfInterrupted is the error of a run stopped by a stop signal
// before its container started, or nil when none came.
func stopIfInterrupted(interrupted <-chan os.Signal) error {
	select {
	case s := <-interrupted:
		sig := s.(unix.Signal)
		return exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s before the container started; nothing is left", sys.SignalName(sig))
	default:
		return nil
	}
}

// keepOrForget ends the run's record: it is removed once the cgroup is,
// and kept (its pid cleared, its cgroup paths kept) when the group could
// not be removed, so that `workshop clean` finds the group and retries.
func keepOrForget(n *sys.Narrator, rec *state.Run, removeErr error) error {
	if removeErr == nil {
		if err := rec.Forget(); err != nil && !errors.Is(err, os.ErrNotExist) {
			n.Note("could not remove the record %s: %v", rec.Dir(), err)
		}
		return nil
	}
	rec.Pid = 0
	if err := rec.Save(); err != nil {
		return exit.Errorf(exit.ToolFailed, "could not remove the container's cgroup (%v), nor keep its record for a later clean: %v", removeErr, err)
	}
	n.Note("the record %s stays, with the group's paths, so that 'workshop clean' can remove it later", rec.Dir())
	return nil
}
