package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	container "github.com/workshop-dev/workshop/steps/06-container"
	"golang.org/x/sys/unix"
)

func init() {
	subcommands = append(subcommands, newPsCmd(), newKillCmd(), newDiffCmd())
}

func newPsCmd() *cobra.Command {
	var all, idsOnly bool
	c := &cobra.Command{
		Use:   "ps [-a] [-q]",
		Short: "List the running containers: id, name, image, pid, command, memory, uptime (-a: all, with their status)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := requireRootAndProc("ps"); err != nil {
				return err
			}
			runs, err := state.List(global.stateDir)
			if err != nil {
				return exit.Errorf(exit.ToolFailed, "read the containers in %s: %v", global.stateDir, err)
			}
			if idsOnly && !quietAfter(commandLine, "ps") {
				// `workshop -q ps`: the global --quiet, which ps, narrating
				// nothing, has nothing to silence in; cobra gives it to
				// ps's own -q all the same.
				idsOnly = false
			}
			// A record no one can read is not listed: said, so that its
			// container, which may run, is not lost from sight.
			defer func() {
				for _, d := range state.Unreadable(global.stateDir) {
					fmt.Fprintln(c.ErrOrStderr(), "workshop: "+hint.Rewrite(d.String()))
				}
			}()
			if idsOnly {
				for _, r := range runs {
					if _, running := statusOf(r); running || all && (r.Owned() || r.Recorded()) {
						fmt.Fprintln(c.OutOrStdout(), r.ID)
					}
				}
				return nil
			}
			store := imagetar.OpenStore(global.stateDir)
			store.Say = narrator()
			w := tabwriter.NewWriter(c.OutOrStdout(), 2, 8, 2, ' ', 0)
			if all {
				fmt.Fprintln(w, "ID\tNAME\tIMAGE\tPID\tCOMMAND\tMEMORY\tUP\tSTATUS")
			} else {
				fmt.Fprintln(w, "ID\tNAME\tIMAGE\tPID\tCOMMAND\tMEMORY\tUP")
			}
			for _, r := range runs {
				status, running := statusOf(r)
				if !running && !all {
					continue
				}
				if !running && !r.Owned() && !r.Recorded() {
					continue // ended, and forgotten by its workshop, after the list was read
				}
				pid, memory, up := "-", "-", "-"
				if running {
					pid, memory, up = strconv.Itoa(r.Pid), memoryOf(r), time.Since(r.Created).Round(time.Second).String()
				}
				if r.OtherPIDNamespace() {
					pid = "?" // its pid is another namespace's: here, another process's
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.Name, imageOf(store, r), pid,
					shorten(strings.Join(r.Command, " "), 30), memory, up)
				if all {
					fmt.Fprintf(w, "\t%s", hint.Rewrite(status))
				}
				fmt.Fprintln(w)
			}
			return w.Flush()
		},
	}
	// -q as docker ps -q: the ids alone (workshop kill $(workshop ps -q)).
	// It shadows workshop's own --quiet, which has no narration to silence
	// in ps: given before ps (workshop -q ps), it is that one (quietAfter).
	c.Flags().BoolVarP(&idsOnly, "quiet", "q", false, "print only the containers' ids, one a line")
	c.Flags().BoolVarP(&all, "all", "a", false, "list every container of the state dir: also those starting or ending, those whose layer was kept (--keep), and those a killed workshop left ('workshop clean' removes them)")
	return c
}

// quietAfter reports whether -q or --quiet comes after the word cmd in
// args (a command line's words, workshop's own left out), where it is
// cmd's own flag; before cmd, it is workshop's global one. The value of
// --state-dir, which takes one, is no word of the command line's.
func quietAfter(args []string, cmd string) bool {
	seen := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return false
		case a == "--state-dir":
			i++ // its value
		case !seen && a == cmd:
			seen = true
		case seen && (a == "-q" || a == "--quiet" || strings.HasPrefix(a, "--quiet=") || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "q")):
			return true
		}
	}
	return false
}

// statusOf is the STATUS column of `ps -a`, and whether the container
// runs: its first process is there, the child of its living workshop.
func statusOf(r *state.Run) (string, bool) {
	switch {
	case r.Owned() && r.OtherPIDNamespace():
		return fmt.Sprintf("running, its workshop in another PID namespace (%s), whose pids the record's are", r.WorkshopPidNS), true
	case r.Owned() && r.Pid == 0:
		return "starting, or ending", false
	case r.Owned() && state.ParentPid(r.Pid) != r.WorkshopPid:
		return "ending", false
	case r.Owned():
		return "running", true
	// Its run ended and tore down what it could (teardown.finish clears
	// the pid, the mount and the cgroup it removed); a killed one left
	// them all.
	case r.Pid == 0 && r.ProcessesLeft:
		return "ended, processes left in its cgroup ('workshop clean' kills them, then removes the rest)", false
	case r.Pid == 0 && len(r.Mounts) == 0 && len(r.Cgroups) > 0:
		return "ended, its cgroup not removed ('workshop clean' removes it)", false
	case r.EndedWithLayerKept():
		return "ended, layer kept", false
	}
	return "left by a killed workshop", false
}

// imageOf is the IMAGE column: the name the container was started with,
// while that name still names its image; the image's short id once the
// name moved to another image or was removed (as docker ps shows it). While
// another workshop changes the store, the name it started with.
func imageOf(store *imagetar.Store, r *state.Run) string {
	if r.Image == "" {
		return fmt.Sprintf("(step %d root)", r.Step)
	}
	id := filepath.Base(filepath.Dir(r.Lower)) // <store>/<id>/rootfs
	img, err := store.ResolveNoWait(r.Image)
	if errors.Is(err, imagetar.ErrBusy) {
		return r.Image // as it started; ps does not wait for an image being added
	}
	if err == nil && img.ID == id {
		return r.Image
	}
	if len(id) >= 12 {
		return id[:12]
	}
	return r.Image
}

// memoryOf reads what the container's cgroup uses now, or "-".
func memoryOf(r *state.Run) string {
	if len(r.Cgroups) == 0 {
		return "-"
	}
	cg, err := cgroups.Open(r.ID)
	if err != nil {
		return "-"
	}
	b, err := cg.MemoryCurrent()
	if err != nil {
		return "-"
	}
	return units.FormatSize(b)
}

// shorten fits s in max characters for a column: control characters
// (a newline, a tab) shown as Go escapes them, so that a row stays one row,
// and a long one cut between characters, not inside one.
func shorten(s string, max int) string {
	cut := ""
	if r := []rune(s); len(r) > max {
		s, cut = string(r[:max-1]), "…"
	}
	// Escaped after the cut, so that the cut never falls inside an escape.
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 || !utf8.ValidString(s) {
		q := strconv.Quote(s)
		s = q[1 : len(q)-1]
	}
	return s + cut
}

// killsByDefault reports whether sig's default action ends a process (or
// stops it), so that a PID 1 without a handler drops it: not SIGKILL and
// SIGSTOP, which the kernel delivers to PID 1 from an ancestor namespace,
// nor the signals ignored by default or that resume (CHLD, CONT, URG,
// WINCH).
func killsByDefault(sig unix.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH:
		return false
	}
	return true
}

// settingUp reports whether pid, a container's first process, is still
// workshop's init before the command runs: the same program as this one
// (it has not exec'd the command), with no child (--init's init has not
// started it). Unknown (no /proc/PID/task/*/children): false.
func settingUp(pid int) bool {
	self, err1 := os.Stat("/proc/self/exe")
	first, err2 := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if err1 != nil || err2 != nil || !os.SameFile(self, first) {
		return false
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		children, err := os.ReadFile(t)
		if err != nil || strings.TrimSpace(string(children)) != "" {
			return false
		}
	}
	return true
}

// runningContainer finds a running container by id, id prefix or name.
func runningContainer(ref string) (*state.Run, error) {
	r, err := state.Load(global.stateDir, ref)
	if err != nil {
		return nil, exit.Errorf(exit.ToolFailed, "%v", err)
	}
	switch {
	case r.Owned() && r.OtherPIDNamespace():
		return nil, exit.Errorf(exit.ToolFailed, "container %s was started by a workshop in another PID namespace (%s): its pids are that namespace's, and here name other processes; run this command in that namespace", r.ID, r.WorkshopPidNS)
	case !r.Owned() && r.EndedWithLayerKept():
		return nil, exit.Errorf(exit.ToolFailed, "container %s has ended; its writable layer was kept (--keep): "+
			"'workshop diff %s' lists what it changed, 'workshop clean' removes it", r.ID, r.ID)
	case r.Owned() && r.Pid == 0:
		return nil, exit.Errorf(exit.ToolFailed, "container %s is starting (its first process is not made yet, or its workshop is taking it down): try again in a moment", r.ID)
	case !r.Owned() || r.Pid == 0:
		return nil, exit.Errorf(exit.ToolFailed, "container %s is not running (its workshop process is gone; 'workshop clean' removes what it left)", r.ID)
	}
	return r, nil
}

func newKillCmd() *cobra.Command {
	var signal string
	c := &cobra.Command{
		Use:   "kill ID… [--signal SIG]",
		Short: "Send a signal to running containers (SIGKILL unless --signal says otherwise)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("give the id or name of a container (see 'workshop ps')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			sig, err := parseSignal(signal)
			if err != nil {
				return err
			}
			if err := requireRootAndProc("kill"); err != nil {
				return err
			}
			// Each in turn, as docker kill does (workshop kill $(workshop
			// ps -q)): one that cannot be signalled is said, and the
			// others still are.
			// A container named twice (by name and by id) is signalled
			// once: a second SIGINT would be a second Ctrl-C. Each word
			// is looked up first: once killed, a container's record may
			// be gone before its second word's turn.
			ids := map[string]string{} // word → container id
			for _, ref := range args {
				if r, err := state.Load(global.stateDir, ref); err == nil {
					ids[ref] = r.ID
				}
			}
			named := map[string]string{} // container id → the word that named it first
			return eachOf(args, "containers", "not sent "+sys.SignalName(sig), func(ref string) error {
				if id, ok := ids[ref]; ok {
					if first, ok := named[id]; ok {
						fmt.Fprintf(c.OutOrStdout(), "container %s was named before (as %s): %s is sent once\n", id, first, sys.SignalName(sig))
						return nil
					}
					named[id] = ref
				}
				return killContainer(c.OutOrStdout(), ref, sig)
			})
		},
	}
	c.Flags().StringVarP(&signal, "signal", "s", "KILL", "the signal: a name (TERM, SIGINT…) or a number")
	return c
}

// killContainer sends sig to the running container ref, through a pidfd.
func killContainer(out io.Writer, ref string, sig unix.Signal) error {
	r, err := runningContainer(ref)
	if err != nil {
		return err
	}
	n := narrator()
	// A pidfd first: the checks below are then of the process the
	// signal will reach, and a pid reused in between (the
	// container ended, another process got its number) is never
	// signalled.
	pidfd, err := n.Because("a handle on the container's first process: a signal through it reaches that process or none").PidfdOpen(r.Pid)
	switch {
	case errors.Is(err, unix.ESRCH):
		return exit.Errorf(exit.ToolFailed, "container %s has ended", r.ID)
	case err != nil:
		// ENOSYS before Linux 5.3; EPERM where a seccomp filter
		// (an older Docker's, systemd's SystemCallFilter=) refuses
		// calls it does not know.
		n.Note("no pidfd (%v): kill(2) by pid instead, checked just before", errors.Unwrap(err))
		pidfd = -1
	}
	closePidfd := func() {
		if pidfd >= 0 {
			n.CloseFd(pidfd)
			pidfd = -1
		}
	}
	defer closePidfd()
	// The pid in the record is the container's first process while
	// its workshop lives; check it is still that process's child.
	if state.ParentPid(r.Pid) != r.WorkshopPid {
		return exit.Errorf(exit.ToolFailed, "container %s has ended", r.ID)
	}
	// Ended already (an OOM kill, its own exit), not yet collected
	// by its workshop: a signal now would change nothing, and the
	// mark would make the run blame 'workshop kill' for its end.
	if st, ok := state.StatusField(r.Pid, "State"); ok && strings.HasPrefix(st, "Z") {
		return exit.Errorf(exit.ToolFailed, "container %s has ended: its workshop is taking it down", r.ID)
	}
	// Still workshop's init, before the command runs: the signal
	// is the command's, and the init, a Go program, would take it
	// for itself (a SIGSEGV: a dump of its stacks, the run ended).
	// SIGKILL and SIGSTOP stop a container at any moment.
	if sig != unix.SIGKILL && sig != unix.SIGSTOP && settingUp(r.Pid) {
		return exit.Errorf(exit.ToolFailed, "container %s is being set up: its command does not run yet, and %s is for the command; try again in a moment (SIGKILL stops it now)", r.ID, sys.SignalName(sig))
	}
	// From the host, the container's PID 1 is an ordinary pid: a
	// signal it has no handler for still does nothing, except
	// SIGKILL and SIGSTOP, which the kernel never lets PID 1 ignore
	// from an ancestor namespace.
	caught, known := state.Catches(r.Pid, int(sig))
	// Marked first, so that the run's workshop, woken by the
	// death, finds the mark: its verdict names the sender.
	if err := r.MarkKill(int(sig)); err != nil {
		n.Note("could not mark the record of %s: %v (its run may give the wrong reason for its end)", r.ID, err)
	}
	if pidfd >= 0 {
		err = n.PidfdSendSignal(pidfd, sig)
		closePidfd()
	} else {
		err = n.Kill(r.Pid, sig)
	}
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			// It ended, and its workshop reaped it, between the
			// checks above and the signal. (The mark stays: taken
			// back, it could be another kill's, just sent.)
			return exit.Errorf(exit.ToolFailed, "container %s has ended", r.ID)
		}
		return exit.Errorf(exit.ToolFailed, "%v", err)
	}
	fmt.Fprintf(out, "sent %s to container %s (pid %d)\n", sys.SignalName(sig), r.ID, r.Pid)
	// Only a PID 1 drops it: without a PID namespace (--ns
	// without pid) the default action applies, and kills it.
	if known && !caught && killsByDefault(sig) && ownPIDNamespace(r.Pid) {
		n.Note("the container's first process has no handler for %s, and a PID 1 drops such a signal (step 3's lesson): it goes on running; "+
			"'workshop kill %s' sends SIGKILL, which it cannot ignore", sys.SignalName(sig), r.ID)
	}
	return nil
}

// parseSignal reads a signal as kill(1) does: KILL, SIGKILL or 9; the
// real-time ones as RTMIN, RTMIN+3, RTMAX-1 (glibc's SIGRTMIN is 34: it
// keeps 32 and 33 for itself) or SIGRT_2 as strace names them; and the
// old names IOT, CLD and POLL.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n < 65 {
			return unix.Signal(n), nil
		}
		return 0, usageError("--signal %s: not a signal; signals are numbered 1 to 64", s)
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	aliases := map[string]string{"IOT": "ABRT", "CLD": "CHLD", "POLL": "IO"}
	if a, ok := aliases[name]; ok {
		name = a
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	const rtmin, rtmax = 34, 64
	rt := func(base int, off string, sign int) (unix.Signal, bool) {
		n := 0
		if off != "" || strings.HasSuffix(name, "+") || strings.HasSuffix(name, "-") {
			var err error
			if n, err = strconv.Atoi(off); err != nil || n < 0 {
				return 0, false // RTMIN+ with nothing after it, as kill(1) refuses
			}
		}
		sig := base + sign*n
		return unix.Signal(sig), sig >= rtmin && sig <= rtmax
	}
	switch {
	case name == "RTMIN" || strings.HasPrefix(name, "RTMIN+"):
		if sig, ok := rt(rtmin, strings.TrimPrefix(strings.TrimPrefix(name, "RTMIN"), "+"), 1); ok {
			return sig, nil
		}
	case name == "RTMAX" || strings.HasPrefix(name, "RTMAX-"):
		if sig, ok := rt(rtmax, strings.TrimPrefix(strings.TrimPrefix(name, "RTMAX"), "-"), -1); ok {
			return sig, nil
		}
	case strings.HasPrefix(name, "RT_"):
		if n, err := strconv.Atoi(strings.TrimPrefix(name, "RT_")); err == nil && n >= 0 && n <= 32 {
			return unix.Signal(32 + n), nil
		}
	}
	return 0, usageError("--signal %s: not a signal; give a name such as TERM or KILL (RTMIN+n for a real-time one), or a number", s)
}

func newDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff ID",
		Short: "List what a container changed against its image (A added, C changed, D deleted)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("give the id or name of one container (see 'workshop ps')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireRootAndProc("diff"); err != nil {
				return err
			}
			r, err := state.Load(global.stateDir, args[0])
			if err != nil {
				if errors.Is(err, state.ErrNoContainer) {
					// A container that ended without --keep left no
					// record to find: its changes went with it.
					return exit.Errorf(exit.ToolFailed, "%v; a container that has ended is there only if it ran with --keep, which keeps its writable layer for diff", err)
				}
				return exit.Errorf(exit.ToolFailed, "%v", err)
			}
			if r.Copied {
				return exit.Errorf(exit.ToolFailed, "container %s runs on a full copy of its image (this kernel had no overlayfs), written in place: there is no layer of its changes to list", r.ID)
			}
			if r.Upper == "" || r.Lower == "" {
				return exit.Errorf(exit.ToolFailed, "container %s has no overlay to compare (only step 6 containers have one)", r.ID)
			}
			changes, err := container.Diff(r.Lower, r.Upper)
			if _, lerr := os.Lstat(r.Upper); errors.Is(err, fs.ErrNotExist) && errors.Is(lerr, fs.ErrNotExist) {
				// Its run ended while diff read (or just before): the
				// layer goes with it, unless --keep.
				return exit.Errorf(exit.ToolFailed, "container %s has ended, and its writable layer was removed with it ('workshop full run --keep' keeps it for diff)", r.ID)
			}
			if _, lerr := os.Lstat(r.Lower); errors.Is(err, fs.ErrNotExist) && errors.Is(lerr, fs.ErrNotExist) {
				return exit.Errorf(exit.ToolFailed, "the image container %s ran from is gone (%s): there is nothing to compare its writable layer with", r.ID, r.Lower)
			}
			if err != nil {
				return exit.Errorf(exit.ToolFailed, "read the writable layer %s: %v", r.Upper, err)
			}
			runtime := map[string]bool{}
			for _, d := range r.RuntimeDirs {
				runtime[d] = true
			}
			for _, ch := range changes {
				if ch.Kind == 'A' && runtime[ch.Path] {
					continue // a mount point the runtime made, not the command
				}
				fmt.Fprintln(c.OutOrStdout(), ch)
			}
			return nil
		},
	}
}

// ownPIDNamespace reports whether process pid is in another PID namespace
// than workshop's (where it is the first process, PID 1).
func ownPIDNamespace(pid int) bool {
	theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	ours, err2 := os.Readlink("/proc/self/ns/pid")
	return err1 == nil && err2 == nil && theirs != ours
}
