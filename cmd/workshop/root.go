package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
	"golang.org/x/sys/unix"
)

// globals are the flags every command takes (DESIGN.md, "Command line").
type globals struct {
	explain  bool
	quiet    bool
	noColor  bool
	stateDir string
}

var global globals

// showVersion is the root's --version.
var showVersion bool

// defaultStateDir is where workshop keeps its state without --state-dir.
const defaultStateDir = "/var/lib/workshop"

// narrator builds the syscall narrator from the global flags.
func narrator() *sys.Narrator {
	return sys.New(os.Stderr, sys.Options{
		Quiet:   global.quiet,
		Explain: global.explain,
		Color:   sys.ColorWanted(global.noColor),
	})
}

// subcommands are added by the files of this package in their init().
var subcommands []*cobra.Command

// commandLine is the command line's words, workshop's own left out, for a
// command that needs to know where a flag was given (quietAfter).
var commandLine []string

// newRootCmd is the command tree for the command line args (without the
// program's name), which a flag's error may look at beyond where pflag stopped.
func newRootCmd(args []string) *cobra.Command {
	commandLine = args
	root := &cobra.Command{
		Use:   "workshop",
		Short: "Build a container step by step and see every system call it makes",
		Long: `workshop teaches how containers work by building one, step by step, for real,
on this machine, and printing every system call it makes in strace's notation.

Start with "workshop steps", then "sudo workshop step 1 --explain".`,
		// Runnable, so that the root's own arguments are checked
		// (`workshop -- ps`, `workshop ""`: an unknown command, 125)
		// instead of the help printed with 0.
		Args: func(c *cobra.Command, args []string) error {
			if showVersion && len(args) > 0 {
				return usageError("--version takes no words after it: give 'workshop --version' alone (%s is one word too many)", hint.QuoteWords(args[:1]))
			}
			if len(args) > 0 {
				// cobra's suggestion (by edit distance and prefix), as
				// its own error would have given: "stpe" is step.
				// (Not the command itself: `workshop -- ps` is refused
				// for its --.)
				// (Nor for a blank word, an unset $CMD, which every
				// command begins with.)
				c.SuggestionsMinimumDistance = 2
				if s := c.SuggestionsFor(args[0]); strings.TrimSpace(args[0]) != "" && len(s) > 0 && !slices.Contains(s, args[0]) {
					meant := append([]string{s[0]}, args[1:]...)
					return usageError("unknown command %q for \"workshop\": did you mean 'workshop %s'? (see 'workshop --help')", args[0], hint.QuoteWords(meant))
				}
				return usageError("unknown command %q for \"workshop\" (see 'workshop --help')", args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if showVersion {
				_, err := fmt.Fprintf(c.OutOrStdout(), "workshop version %s\n", version)
				return err
			}
			return c.Help()
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		// An empty --state-dir (an unset variable in --state-dir "$DIR")
		// would be the current directory, where the lessons have the
		// student build my-new-root by hand, and clean would remove it.
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			// The version is printed whatever the state dir or the limit.
			if showVersion && c == c.Root() {
				return nil
			}
			// Help opens nothing: it is given whatever the limit.
			if !helpOrCompletion(c) {
				if err := checkOpenFiles(); err != nil {
					return err
				}
			}
			if strings.TrimSpace(global.stateDir) == "" {
				return usageError("--state-dir is empty: give a directory (the default is /var/lib/workshop); an empty one would be the current directory")
			}
			if err := checkDirFlag("--state-dir", global.stateDir, "workshop keeps its roots, images and containers in a directory there"); err != nil {
				return err
			}
			// Absolute from here on, its symlinks resolved: the records
			// name their layers and mounts by it, `diff` or `clean` may
			// run from another directory or reach it by another path,
			// and mountinfo names its mounts by their real path.
			if _, err := filepath.Abs(global.stateDir); err != nil {
				return usageError("--state-dir %s: %v", global.stateDir, err)
			}
			abs := state.Resolve(global.stateDir)
			if !utf8.ValidString(abs) {
				return usageError("--state-dir %q is not UTF-8 text (its symlinks resolved), and the records workshop keeps there (JSON) can name only paths that are: give a directory whose path is", abs)
			}
			global.stateDir = abs
			hintStateDir(c.Flags().Lookup("state-dir"))
			if kernel := kernelTree(abs); kernel != "" {
				return usageError("--state-dir %s is under %s, the kernel's view of itself, not a place to keep files: give a directory on a disk (the default is /var/lib/workshop)", global.stateDir, kernel)
			}
			if global.quiet && global.explain {
				return usageError("--quiet and --explain ask for opposite things: --explain prints the lesson and a gloss beside each syscall, --quiet prints no syscalls; give one of them")
			}
			lddcopy.TrackCopy = trackCopy
			return checkFlagValues(c)
		},
	}
	// workshop's own --version, not cobra's: cobra prints its version before
	// it looks at the arguments, so `workshop --version extra` exited 0.
	showVersion = false
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "version for workshop")
	pf := root.PersistentFlags()
	pf.BoolVar(&global.explain, "explain", false, "print the lesson first, and a plain-English gloss beside each syscall")
	pf.BoolVarP(&global.quiet, "quiet", "q", false, "do not narrate the syscalls")
	pf.BoolVar(&global.noColor, "no-color", false, "no colour (also: a non-empty NO_COLOR, TERM=dumb, or stderr not a terminal)")
	pf.StringVar(&global.stateDir, "state-dir", defaultStateDir, "where workshop keeps roots, images, containers")

	// A bad flag is the tool's failure (125), said in one sentence.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// "step 7 --timeout 1s": the step command knows no step's flags,
		// and the number is the mistake to name.
		if c.Name() == "step" && c.Parent() == root {
			if n := commandWord("step", c.Flags().Args(), args); n != "" {
				if serr := unknownStep(n); serr != nil {
					return serr
				}
			}
		}
		// "lab -1": pflag reads -1 as a shorthand flag; it is the step.
		if c.Name() == "lab" && c.Parent() == root {
			// Its first word, not any later one (lab 2 -1).
			if w := commandWord("lab", nil, args); negative.MatchString(w) && strings.HasSuffix(err.Error(), " in "+w) {
				return unknownStep(w)
			}
		}
		// "full run /bin/sh -c 'echo hi'": the command's own flag (-c)
		// is the unknown one, after words pflag took as arguments. The
		// mistake is the missing --, as for a command without flags.
		if words := c.Flags().Args(); len(words) > 0 && runsACommand(c) && strings.HasPrefix(err.Error(), "unknown ") {
			if cmd := commandWords(args, c); len(cmd) > 0 {
				return usageError("put the command after --: %s [flags] -- %s", c.CommandPath(), hint.QuoteWords(cmd))
			}
		}
		// "step 3 --memory 80M": a limit is a cgroup's, which step 3
		// has none of.
		for _, limit := range []string{"--memory", "--pids", "--cpus", "--timeout"} {
			if c.Flags().Lookup(limit[2:]) == nil && (err.Error() == "unknown flag: "+limit || strings.HasPrefix(err.Error(), "unknown flag: "+limit+"=")) {
				return usageError("%s is a limit, which only a cgroup sets, and %s has none; step 4 and full run take it ('workshop step 4 %s …', 'workshop full run %s …')", limit, c.CommandPath(), limit, limit)
			}
		}
		if m := badBool.FindStringSubmatch(err.Error()); m != nil {
			return usageError("%s takes no value, or true or false: %q is neither (see '%s --help')", m[2], m[1], c.CommandPath())
		}
		return exit.Errorf(exit.ToolFailed, "%v (see '%s --help')", err, c.CommandPath())
	})
	for _, c := range subcommands {
		root.AddCommand(c)
	}
	root.SetHelpCommand(newHelpCmd())
	// cobra's completion command, made now rather than at Execute, so that
	// a shell it does not know is a mistake (125), not its help with 0.
	root.InitDefaultCompletionCmd()
	if comp, _, err := root.Find([]string{"completion"}); err == nil && comp != root {
		comp.Args = func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("completion %q: give a shell: bash, zsh, fish or powershell (see 'workshop completion --help')", args[0])
			}
			return nil
		}
		comp.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	// The help command, made now (cobra adds it at Execute) so that it
	// gets its -h too.
	root.InitDefaultHelpCmd()
	nameHelpFlags(root)
	return root
}

// nameHelpFlags gives every command its -h, --help before cobra would, with
// the command's whole name: cobra's own says "help for 4" in 'workshop step
// 4 --help', and "help for run" in 'workshop full run --help'.
func nameHelpFlags(c *cobra.Command) {
	if c.Flags().Lookup("help") == nil {
		// -h too, unless a flag of the command has it (as cobra's own
		// checks): pflag panics at a shorthand given twice.
		short := "h"
		if c.Flags().ShorthandLookup("h") != nil || persistentShorthand(c, "h") {
			short = ""
		}
		c.Flags().BoolP("help", short, false, "help for '"+c.CommandPath()+"'")
	}
	for _, sub := range c.Commands() {
		nameHelpFlags(sub)
	}
}

// persistentShorthand says whether a persistent flag of c or of a command
// above it has the shorthand: a flag c inherits. (Not c.InheritedFlags(),
// which merges every such flag into a new set, for each command, at every
// start of workshop: a tenth of its start.)
func persistentShorthand(c *cobra.Command, short string) bool {
	for p := c; p != nil; p = p.Parent() {
		if p.PersistentFlags().ShorthandLookup(short) != nil {
			return true
		}
	}
	return false
}

// commandWords are the words of line from the first that is neither one
// of c's path (full run, step 3) nor a flag or a flag's value: the
// command, typed without its --.
func commandWords(line []string, c *cobra.Command) []string {
	path := strings.Fields(c.CommandPath())[1:]
	for i := 0; i < len(line); i++ {
		switch w := line[i]; {
		case w == "--":
			return nil
		case len(path) > 0 && w == path[0]:
			path = path[1:]
		case strings.HasPrefix(w, "-"):
			if takesValue(w) {
				i++ // its value (--hostname sh)
			}
		default:
			return line[i:]
		}
	}
	return nil
}

// runsACommand reports whether c runs a command in a container, given
// after -- (its usage line ends with the command's place, as
// commandAfterDash checks it).
func runsACommand(c *cobra.Command) bool { return strings.HasSuffix(c.Use, "[-- CMD ARGS…]") }

// hintStateDir makes the commands workshop suggests carry the --state-dir
// given (f, the flag), resolved, unless it is the default. Called once the
// flags are read, and again for an error cobra found before the command's
// PersistentPreRunE (its arguments': 'workshop kill' with no id).
func hintStateDir(f *pflag.Flag) {
	if f == nil || !f.Changed || strings.TrimSpace(f.Value.String()) == "" {
		return
	}
	if abs := state.Resolve(f.Value.String()); abs != state.Resolve(defaultStateDir) {
		hint.SetStateDir(abs)
	}
}

// trackCopy records a half copy step 2 makes in root under the state dir
// while it is made, for 'workshop clean' to remove after a kill -9
// (lddcopy.TrackCopy). Where the record cannot be made, the copy goes on: a
// state dir that takes no file fails the command elsewhere, said.
func trackCopy(root, path string) (done func()) {
	p, err := state.TrackPendingLocked(global.stateDir, path, root)
	if err != nil {
		return func() {}
	}
	return p.Done
}

// helpOrCompletion reports whether c is help, or a shell's completion (the
// script, or cobra's __complete, which a TAB runs): they open nothing.
func helpOrCompletion(c *cobra.Command) bool {
	switch c.Name() {
	case "help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return true
	}
	return c.Parent() != nil && c.Parent().Name() == "completion"
}

// minOpenFiles is the fewest files workshop asks to be let open at once.
// Below about 24 a step or a run failed halfway, on whichever call came
// first (a full run needs 16, step 5 24), and below 8 Go's runtime died
// with every goroutine's stack on its first pollable file; 64 leaves room.
const minOpenFiles = 64

// checkOpenFiles refuses to start where the limit of open files ('ulimit
// -n') is below minOpenFiles. Go has raised it to its hard limit already:
// what is left is the most this process may have.
func checkOpenFiles() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= minOpenFiles {
		return nil
	}
	return usageError("this process may have only %d files open at once ('ulimit -n', whose hard limit is %d), and workshop needs %d: run it from a shell with a higher limit ('ulimit -n 1024' as root)", lim.Cur, lim.Max, minOpenFiles)
}

// commandWord is the word a `workshop step` (or `lab`: name) command line
// gives as its step, when its flags failed to parse: the first of the
// parsed arguments, or, where pflag stopped at a flag before reaching any
// ("step --timeout 1s 7"), the first word of the whole line after name
// that no flag takes as its value (a flag written without "=" is taken to
// have one). "" if there is none.
func commandWord(name string, parsed, line []string) string {
	if len(parsed) > 0 {
		return parsed[0]
	}
	i := 0
	for ; i < len(line) && line[i] != name; i++ {
		switch w := line[i]; {
		case w == "--":
			return ""
		case strings.HasPrefix(w, "-") && takesValue(w):
			i++ // its value (--state-dir step)
		}
	}
	for i++; i < len(line); i++ {
		w := line[i]
		switch {
		case w == "--":
			return ""
		case negative.MatchString(w):
			return w // step -1: a number, not a flag (none is a digit)
		case strings.HasPrefix(w, "-"):
			if takesValue(w) {
				i++ // its value
			}
		default:
			return w
		}
	}
	return ""
}

// negative is a word that reads as a negative number.
var negative = regexp.MustCompile(`^-[0-9.]`)

// takesValue reports whether the flag w is followed by its value: one
// written without "=" that is not one of the flags, global or a step's,
// that take none.
func takesValue(w string) bool {
	if strings.Contains(w, "=") {
		return false
	}
	switch w {
	case "--explain", "--quiet", "-q", "--no-color", "-h", "--help", "--init", "--gzip", "--keep", "--solution":
		return false
	}
	return true
}

// badBool matches pflag's error for a boolean flag given a value that is
// none (--init=maybe), which ends in Go's strconv.ParseBool wording.
var badBool = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-\w, )?(--[\w-]+)" flag: strconv\.ParseBool`)

// newHelpCmd is cobra's `help [command]`, except that an unknown topic is a
// mistake (125), not a help printed with 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			// What Find leaves over is a command's arguments (help step
			// 3), or a word that names no command (help foo).
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 && cmd.HasSubCommands() {
				return usageError("no help for %q: it is not a workshop command (see 'workshop --help')", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// checkFlagValues refuses two mistakes any flag can carry. An empty value:
// in --memory "$MEM" with MEM unset it would silently mean no limit. And
// "--": a flag written without its value (--name -- /bin/true) takes the --
// that follows it, and the command is then not after a --.
func checkFlagValues(c *cobra.Command) error {
	var err error
	c.Flags().Visit(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		var values []string
		switch f.Value.Type() {
		case "string":
			values = []string{f.Value.String()}
		case "stringSlice", "stringArray":
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				values = sv.GetSlice()
			}
		}
		for _, v := range values {
			switch {
			case v == "--":
				how := ""
				if strings.Contains(c.Use, "-- CMD") {
					how = fmt.Sprintf(" (write --%s VALUE -- COMMAND)", f.Name)
				}
				err = usageError("--%s needs a value: it took the -- that follows it%s", f.Name, how)
			case strings.TrimSpace(v) == "" && len(values) > 1:
				err = usageError("--%s has an empty item in its list (%s): write the items with one comma between each", f.Name, strings.Join(values, ","))
			case strings.TrimSpace(v) == "":
				err = usageError("--%s is empty: give it a value, or leave the flag out for its default (an unset variable in --%s \"$VAR\"?)", f.Name, f.Name)
			}
			if err != nil {
				return
			}
		}
	})
	return err
}

// kernelTree is the kernel's own tree (/proc, /sys) that dir, its
// symlinks resolved already (state.Resolve), is in, or "". workshop would
// make its images and containers there: in /sys/fs/cgroup (a tmpfs on a
// hybrid host) beside the machine's cgroups, or fail with a bare mkdir
// error in /proc.
func kernelTree(dir string) string {
	for _, tree := range []string{"/proc", "/sys"} {
		if dir == tree || strings.HasPrefix(dir, tree+"/") {
			return tree
		}
	}
	return ""
}

// requireRoot is the check every step that makes namespaces, mounts or
// cgroups does first.
func requireRoot(what string) error {
	if os.Geteuid() != 0 {
		return exit.Errorf(exit.ToolFailed, "%s needs root: run it with sudo (in the classroom VM: sudo workshop …)", what)
	}
	return nil
}

// requireRootAndProc is requireRoot for a command that finds processes by
// pid under /proc: one that starts a container, or looks at running ones.
// That /proc must show workshop's own PID namespace (doctor.OwnProc).
func requireRootAndProc(what string) error {
	if err := requireRoot(what); err != nil {
		return err
	}
	if why, fix := doctor.OwnProc(); why != "" {
		return exit.Errorf(exit.ToolFailed, "%s needs the /proc of the PID namespace it runs in, and %s: %s", what, why, fix)
	}
	return nil
}

// usageError is a mistake on the command line: exit 125 with a sentence.
func usageError(format string, args ...any) error {
	return exit.Errorf(exit.ToolFailed, format, args...)
}

// noArgs is the Args of a command that takes none: one sentence, as
// clean's, instead of cobra's "unknown command" for a word it would not
// know what to do with.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments, only its flags: %q is one too many (see '%s --help')", c.Name(), args[0], c.CommandPath())
	}
	return nil
}
