// Package sys is the syscall narrator: every system call a step makes goes
// through it, really happens, and is printed on stderr in strace's notation
// with its real result, so the student sees the container being built.
//
// The contract (see DESIGN.md):
//   - a line is printed only after the call returned, with its real result;
//   - a call made for us by the Go runtime (clone inside exec.Cmd.Start) is
//     reported once it has happened, with the flags actually passed;
//   - lines from a child process carry "[pid N] ", as strace -f prints them.
package sys

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/fatih/color"
	"golang.org/x/term"

	"github.com/workshop-dev/workshop/internal/hint"
)

// Options are the user's choices about narration; they travel to re-executed
// children so a container's init narrates the same way.
type Options struct {
	Quiet   bool `json:"quiet"`
	Explain bool `json:"explain"`
	Color   bool `json:"color"`
}

// ColorWanted applies DESIGN.md's rule: colour only when stderr is a terminal,
// NO_COLOR is unset and --no-color was not given.
func ColorWanted(noColorFlag bool) bool {
	if noColorFlag {
		return false
	}
	// no-color.org: NO_COLOR set to anything but the empty string. And a
	// terminal that says it is dumb (Emacs' shell, some CI logs) shows
	// escape sequences as text.
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(os.Stderr.Fd()))
}

// output is shared by a narrator and the copies Because and WithPid make.
type output struct {
	mu sync.Mutex // serialises whole lines from concurrent goroutines
	w  io.Writer
}

// Narrator performs syscalls and prints them.
type Narrator struct {
	out    *output
	opts   Options
	prefix string // "[pid 1] " for lines made by a child
	gloss  string // one-shot gloss set by Because
	styles styles
}

type styles struct {
	call, errno, pid, gloss, note *color.Color
}

// New returns a narrator writing to w.
func New(w io.Writer, opts Options) *Narrator {
	n := &Narrator{out: &output{w: w}, opts: opts}
	n.styles = styles{
		call:  color.New(color.FgYellow),
		errno: color.New(color.FgRed, color.Bold),
		pid:   color.New(color.FgCyan),
		gloss: color.New(color.Faint),
		note:  color.New(color.FgGreen, color.Bold),
	}
	for _, c := range []*color.Color{n.styles.call, n.styles.errno, n.styles.pid, n.styles.gloss, n.styles.note} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return n
}

// Discard is a narrator that makes the calls and prints nothing (for tests and
// for library code called outside a lesson).
func Discard() *Narrator { return New(io.Discard, Options{Quiet: true}) }

// Options returns the narrator's options, to hand to a child process.
func (n *Narrator) Options() Options { return n.opts }

// WithPid returns a narrator whose lines say they were made by process pid.
func (n *Narrator) WithPid(pid int) *Narrator {
	c := *n
	c.prefix = fmt.Sprintf("[pid %d] ", pid)
	c.gloss = ""
	return &c
}

// Because returns a narrator whose next line carries this gloss under
// --explain instead of the syscall's default one.
func (n *Narrator) Because(gloss string) *Narrator {
	c := *n
	c.gloss = gloss
	return &c
}

// orBecause is n, or, when the caller gave no gloss of its own, n with
// gloss: for a call whose default gloss depends on its arguments (ioctl).
func (n *Narrator) orBecause(gloss string) *Narrator {
	if n.gloss != "" {
		return n
	}
	return n.Because(gloss)
}

// Writer is where the narration goes (for tables and summaries a step prints).
// It is io.Discard under --quiet.
func (n *Narrator) Writer() io.Writer {
	if n.opts.Quiet {
		return io.Discard
	}
	return n.out.w
}

// Note prints a line of commentary, marked so it is never mistaken for a syscall.
func (n *Narrator) Note(format string, args ...any) {
	if n.opts.Quiet {
		return
	}
	line := n.styles.note.Sprint("==> ") + OneLine(hint.Rewrite(fmt.Sprintf(format, args...)))
	n.emit(line)
}

// LessonBegins and LessonEnds start the notes that frame a lesson printed
// before a run (--explain): its transcripts hold lines in the narration's
// notation from another run, which a reader, or a check against strace
// (internal/stracecheck), must not take for this run's calls.
const (
	LessonBegins = "the lesson of step "
	LessonEnds   = "end of the lesson"
)

// Lesson prints the lesson of step n, framed by a note before and after.
func (n *Narrator) Lesson(step int, text string) {
	n.Note("%s%d, from LESSONS.md; its transcripts are from a run on another machine (other pids, fds and paths)", LessonBegins, step)
	n.emit(strings.TrimRight(text, "\n"))
	n.Note("%s; what follows is this run: every syscall line below is one it really makes", LessonEnds)
}

// record prints one syscall line: name(args) = result, and a gloss under --explain.
func (n *Narrator) record(name, args string, ret int, err error) {
	n.line(name, args, result(ret, err))
}

// line prints a syscall line with an already rendered result.
func (n *Narrator) line(name, args, res string) {
	if n.opts.Quiet {
		return
	}
	n.emit(n.render(name, args, res))
}

// Together runs f with the output held: the lines f prints, through the
// narrator it is given, come one after the other, none of another
// goroutine's between them (a note and the call it announces, when a
// second goroutine may have its own to say as soon as the note is out).
// f must print only through that narrator.
func (n *Narrator) Together(f func(*Narrator)) {
	n.out.mu.Lock()
	defer n.out.mu.Unlock()
	held := *n
	held.out = &output{w: n.out.w} // its own lock, free: the shared one is held here
	f(&held)
}

// Deferred runs f with a narrator whose lines are kept until f returns,
// then printed together: f's calls are made at once, however slowly the
// narration's terminal takes lines (Ctrl-S, a terminal nobody reads),
// which would hold back each call narrated line by line: a kill that must
// come on time (--timeout).
func (n *Narrator) Deferred(f func(*Narrator)) {
	var buf bytes.Buffer
	held := *n
	held.out = &output{w: &buf}
	f(&held)
	n.out.mu.Lock()
	defer n.out.mu.Unlock()
	n.out.w.Write(buf.Bytes())
}

// render is a syscall line: name(args) = result, and a gloss under --explain.
func (n *Narrator) render(name, args, res string) string {
	var b strings.Builder
	if n.prefix != "" {
		b.WriteString(n.styles.pid.Sprint(n.prefix))
	}
	b.WriteString(n.styles.call.Sprint(name))
	b.WriteString("(" + args + ") ")
	if strings.HasPrefix(res, "= -1") {
		b.WriteString(n.styles.errno.Sprint(res))
	} else {
		b.WriteString(res)
	}
	if n.opts.Explain {
		g := n.gloss
		if g == "" && strings.HasPrefix(res, "= -1") {
			g = failedGlosses[name]
		}
		if g == "" {
			g = glosses[name]
		}
		if g != "" {
			b.WriteString("  " + n.styles.gloss.Sprint("# "+g))
		}
	}
	return b.String()
}

func (n *Narrator) emit(s string) {
	n.out.mu.Lock()
	defer n.out.mu.Unlock()
	fmt.Fprintln(n.out.w, s)
}

// failedGlosses replace a call's gloss where it failed and the usual one
// would mislead: the line that teaches a failed execve must not say the
// program was replaced.
var failedGlosses = map[string]string{
	"execve": "the kernel could not load the program: this process still runs its old one, which goes on",
}

// glosses are the plain-English default for each syscall under --explain.
var glosses = map[string]string{
	"chroot":            "make this directory the process's / (only for path lookups)",
	"chdir":             "move the working directory, so no path is left outside the new root",
	"fchdir":            "move the working directory to an open directory",
	"execve":            "replace this process's program with another one",
	"mkdirat":           "create a directory",
	"unlinkat":          "remove a file or directory",
	"symlinkat":         "create a symbolic link",
	"mknodat":           "create a device node",
	"mount":             "attach a filesystem (or change a mount's propagation)",
	"umount2":           "detach a filesystem",
	"pivot_root":        "swap the root mount for a new one; the old root moves aside",
	"sethostname":       "set the hostname, visible only inside this UTS namespace",
	"openat":            "open a file",
	"write":             "write bytes to an open file",
	"close":             "close a file descriptor",
	"pipe2":             "make a pipe: what is written into one end is read from the other",
	"clone":             "create a child process, with new namespaces for each CLONE_NEW* flag",
	"clone3":            "create a child process (clone's newer form, its arguments in a struct): new namespaces for each CLONE_NEW* flag; with CLONE_INTO_CGROUP, born in the cgroup whose directory the cgroup fd is",
	"rt_sigaction":      "set what a signal does to this process: run a handler, the default (SIG_DFL), or nothing (SIG_IGN)",
	"syncfs":            "write what the kernel still holds in memory for this file's filesystem to its disk",
	"kill":              "send a signal",
	"tgkill":            "send a signal to one thread of a process (here workshop's own: it stops itself)",
	"pidfd_open":        "get a descriptor for one process, which no other process can ever take the place of",
	"pidfd_send_signal": "send a signal to the process a pidfd stands for, or to none if it has ended",
	"copy_file_range":   "copy bytes between two files inside the kernel",
	"fchmod":            "set a file's permission bits",
	"fchown":            "set a file's owner",
	"unshare":           "move this process into new namespaces",
	"setns":             "join an existing namespace",
	"wait4":             "wait for a child to end and collect its exit status",
	"capget":            "read this thread's capability sets",
	"capset":            "set this thread's capability sets",
}
