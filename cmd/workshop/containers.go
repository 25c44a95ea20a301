package main

import (
	"errors"
	"fmt"
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
			runs, unreadable, err := state.Scan(global.stateDir)
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
				for _, d := range unreadable {
					fmt.Fprintln(c.ErrOrStderr(), "workshop: "+hint.Rewrite(d.String()))
				}
			}()
			if idsOnly {
				for _, r := range runs {
					if _, running := container.Status(r); running || all && !r.Forgotten() {
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
				status, running := container.Status(r)
				if !running && !all {
					continue
				}
				if !running && r.Forgotten() {
					continue // ended, and forgotten by its workshop, after the list was read
				}
				pid, memory, up := "-", "-", "-"
				if running {
					pid, memory, up = strconv.Itoa(r.Pid), container.MemoryInUse(r), time.Since(r.Created).Round(time.Second).String()
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
				return container.Kill(narrator(), c.OutOrStdout(), global.stateDir, ref, sig)
			})
		},
	}
	c.Flags().StringVarP(&signal, "signal", "s", "KILL", "the signal: a name (TERM, SIGINT…) or a number")
	return c
}

// parseSignal reads a signal as kill(1) does: KILL, SIGKILL or 9; the
// real-time ones as RTMIN, RTMIN+3, RTMAX-1 (glibc's SIGRTMIN is 34: it
// keeps 32 and 33 for itself) or SIGRT_2 as strace names them; and the
// old names IOT, CLD and POLL.
func parseSignal(given string) (unix.Signal, error) {
	// Spaces around it are dropped, as around a size or a count (a
	// quoted "$SIG " from a script); the refusals quote it as given.
	s := strings.TrimSpace(given)
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n < 65 {
			return unix.Signal(n), nil
		}
		return 0, usageError("--signal %q: not a signal; signals are numbered 1 to 64", given)
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
	return 0, usageError("--signal %q: not a signal; give a name such as TERM or KILL (RTMIN+n for a real-time one), or a number", given)
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
			if container.LayerGone(global.stateDir, r) {
				// Its run ended while diff read (or just before): the
				// layer goes with it, unless --keep, and the walk saw a
				// part of it.
				if r.Keep {
					return exit.Errorf(exit.ToolFailed, "the kept writable layer of container %s was removed (by a workshop clean) while diff read it", r.ID)
				}
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
