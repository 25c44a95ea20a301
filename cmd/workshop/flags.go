package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/hint"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	"golang.org/x/sys/unix"
)

// runFlags are the flags of every command that starts a container
// (DESIGN.md, "Resource flags"). They are kept as the user typed them and
// parsed by the step that uses them, so that a bad value is reported in the
// step's own words.
type runFlags struct {
	root     string   // --root: the directory the step works in
	memory   string   // --memory 80M
	pids     string   // --pids 64
	cpus     string   // --cpus 0.5
	hostname string   // --hostname box
	ns       []string // --ns mount,uts,…
	timeout  string   // --timeout 10s
}

// The groups of flags a step can ask for.
const (
	withRoot = 1 << iota
	withNamespaces
	withLimits
)

func addRunFlags(c *cobra.Command, f *runFlags, groups int) {
	fl := c.Flags()
	if groups&withRoot != 0 {
		fl.StringVar(&f.root, "root", "", "the container's root directory (default: my-new-root in the state dir); one that does not exist is made, and the command and its libraries are copied in as step 2 does")
	}
	if groups&withNamespaces != 0 {
		fl.StringVar(&f.hostname, "hostname", "", "hostname inside the container (default: a short container id)")
		fl.StringSliceVar(&f.ns, "ns", []string{"mount", "uts", "ipc", "net", "pid", "user", "cgroup"}, "namespaces to create: mount,uts,ipc,net,pid,user,cgroup")
	}
	if groups&withLimits != 0 {
		fl.StringVar(&f.memory, "memory", "", "memory limit, e.g. 80M (K, M, G suffixes)")
		fl.StringVar(&f.pids, "pids", "", "the most processes the container may have, e.g. 64")
		fl.StringVar(&f.cpus, "cpus", "", "CPU share, e.g. 0.5 for half a core")
		fl.StringVar(&f.timeout, "timeout", "", "kill everything in the container after this long, e.g. 10s")
	}
}

// commandAfterDash is the Args check of every command that runs a command in
// a container: its words come after --, so that a flag of the command
// (ls -l) is never read as one of workshop's.
func commandAfterDash(c *cobra.Command, args []string) error {
	// Cobra checks the arguments before the flags' values: a flag that
	// took the -- is the mistake to name, not the command it left behind.
	if err := checkFlagValues(c); err != nil {
		return err
	}
	if len(args) > 0 && c.ArgsLenAtDash() != 0 {
		return usageError("put the command after --: %s [flags] -- %s", c.CommandPath(), hint.QuoteWords(args))
	}
	if len(args) > 0 && strings.TrimSpace(args[0]) == "" {
		return usageError("the command after -- is empty: give a program, as in '%s -- /bin/ls /'", c.CommandPath())
	}
	return nil
}

// parseNSFlag reads --ns, and checks --hostname against it, before
// anything is made: a mistake is then one sentence and nothing to undo.
// An empty --ns ("", an unset variable) is refused: it would make a
// container of no namespace at all, a plain chroot, where the student
// asked for some.
func parseNSFlag(f runFlags) (uintptr, error) {
	if len(f.ns) == 0 {
		return 0, usageError("--ns: no namespace named: give at least one of %s", strings.Join(namespaces.Names(), ","))
	}
	flags, err := namespaces.ParseNamespaces(f.ns)
	if err != nil {
		return 0, usageError("--ns: %v", err)
	}
	if f.hostname != "" && flags&unix.CLONE_NEWUTS == 0 {
		return 0, usageError("--hostname needs the uts namespace, or it would rename the host: add uts to --ns")
	}
	if f.hostname != "" {
		if err := namespaces.CheckHostname(f.hostname); err != nil {
			return 0, usageError("%v", err)
		}
	}
	return flags, nil
}
