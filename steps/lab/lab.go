// Package lab checks the student's own work: each step's exercise is done by
// hand, with the walkthrough's tools (chroot, ldd, unshare, cgcreate, tar),
// and `workshop lab N check` looks at the machine to see whether it worked.
// A check says what is right, what is missing and a hint; never the
// solution, unless asked.
package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/rootmark"
	"github.com/workshop-dev/workshop/internal/sys"
)

// Finding is one thing a check looked at.
type Finding struct {
	OK   bool
	What string // what is right, or what is missing
	Hint string // for a missing thing: where to look, not the answer
}

// Report is the outcome of a check.
type Report struct {
	Findings []Finding
	Solution string // printed only with --solution
	// Flags are the check's own flags as given (--dir, --cgroup), which
	// the command it suggests repeats: without them it checks another
	// directory, or another group.
	Flags string
	step  int
}

// Done reports whether every finding is right.
func (r *Report) Done() bool {
	if len(r.Findings) == 0 {
		return false
	}
	for _, f := range r.Findings {
		if !f.OK {
			return false
		}
	}
	return true
}

func (r *Report) ok(format string, args ...any) {
	r.Findings = append(r.Findings, Finding{OK: true, What: fmt.Sprintf(format, args...)})
}

// missing records a failed finding. A check stops at the first one whose
// absence makes the rest meaningless, so the student fixes one thing at a time.
func (r *Report) missing(hint, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{What: fmt.Sprintf(format, args...), Hint: hint})
}

// dir finds the directory name in the student's directory, the first thing
// most checks look at: it records "NAME exists", or, when it is not there,
// that it is missing with hint, and reports whether it was there.
func (r *Report) dir(o Options, name, hint string) (string, bool) {
	p := o.path(name)
	// A symlink is not the root made by hand (ln -s / my-new-root passed
	// with the host's own programs).
	if target, err := os.Readlink(p); err == nil {
		r.missing("make "+name+" a directory of its own: rm "+name+"; mkdir "+name, "%s is a symlink (to %s), not a directory made for the exercise", name, target)
		return p, false
	}
	fi, err := os.Stat(p)
	if err == nil && !fi.IsDir() {
		// A file by that name: the hint's mkdir would say "File exists".
		r.missing("move it out of the way, then make the directory: mv "+name+" "+name+".old; mkdir "+name,
			"%s in %s is a file, not a directory", name, o.Dir)
		return p, false
	}
	if err != nil {
		// Checked from inside the root: its mkdir would make a second
		// one in it.
		if h := fromInside(o); h != "" {
			hint = h
		}
		r.missing(hint, "there is no directory %s in %s", name, o.Dir)
		return p, false
	}
	// Nor the host's root mounted there (mount --bind / my-new-root).
	if hostRoot, herr := os.Stat("/"); herr == nil && os.SameFile(fi, hostRoot) {
		r.missing("make "+name+" a directory of its own: umount "+name+"; then put in it only what the exercise asks for",
			"%s is the host's own root (a bind mount of /), not a directory made for the exercise", name)
		return p, false
	}
	r.ok("%s exists", name)
	return p, true
}

// fromInside is the hint for a check run from inside one of the
// exercises' roots (cd my-new-root, then the check), or "": the work it
// looks for is in the directory that holds the root.
func fromInside(o Options) string {
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return ""
	}
	switch base := filepath.Base(abs); base {
	case "my-new-root", "container-root":
		return "this directory is " + base + " itself: run the check from the directory that holds it (cd ..), or give that one with --dir"
	}
	return ""
}

// byHand records whether the program the exercise is about (shown as
// name, at path on the host) was copied by hand, as the exercises of steps
// 1 and 2 ask: not by workshop, whose step 2 marks each file it copies
// (rootmark), into a root given as --root or one copied with cp -a. redo
// is how to copy it yourself.
func (r *Report) byHand(name, path, redo string) bool {
	if rootmark.Of(path) == "" {
		return true
	}
	// cp over a file writes into it, which keeps its attributes: the
	// file is removed first.
	r.missing("the exercise is to copy it yourself (remove workshop's first: cp over it keeps its mark): "+redo,
		"%s was copied by workshop's step 2, not by hand (it carries workshop's mark, the extended attribute %s)", name, rootmark.Name)
	return false
}

// Print writes the report as the student reads it.
func (r *Report) Print(w io.Writer, solution bool) {
	// A finding names what the student's root holds (a link's target):
	// one line each, whatever that holds.
	for _, f := range r.Findings {
		if f.OK {
			fmt.Fprintf(w, "  ok    %s\n", sys.OneLine(f.What))
			continue
		}
		fmt.Fprintf(w, "  todo  %s\n", sys.OneLine(f.What))
		if f.Hint != "" {
			fmt.Fprintf(w, "        hint: %s\n", sys.OneLine(hint.Rewrite(f.Hint)))
		}
	}
	if r.Done() {
		fmt.Fprintln(w, "Well done: the exercise is complete.")
	} else if !solution {
		fmt.Fprintln(w, hint.Rewrite(fmt.Sprintf("Not done yet. Stuck? 'sudo workshop lab %d check%s --solution' shows one way to do it.", r.step, r.Flags)))
	}
	if solution && r.Solution != "" {
		// Line by line: it may name the student's --dir or --cgroup.
		lines := strings.Split(r.Solution, "\n")
		for i := range lines {
			lines[i] = sys.OneLine(hint.Rewrite(lines[i]))
		}
		fmt.Fprintf(w, "\nOne way to do it:\n%s\n", strings.Join(lines, "\n"))
	}
}

// Options say where the student worked.
type Options struct {
	// Ctx ends the check early (Ctrl-C): a program it runs is killed, and
	// what it made is removed. Check makes nil context.Background().
	Ctx context.Context
	Dir string // the directory the student worked in (my-new-root etc. are in it)
	// StateDir is workshop's state dir, for step 6's running containers.
	StateDir string
	// Cgroup is the name of step 4's cgroup: "sandbox", as the walkthrough
	// names it.
	Cgroup string
	// LocateCgroup says where a top-level cgroup called name is for a
	// controller on this host, and whether the host is cgroup v2. It is
	// given by the caller (steps/04-cgroups knows the host's layout; an
	// internal package may not import a step).
	LocateCgroup func(controller, name string) (dir string, v2 bool, err error)
}

func (o Options) path(name string) string { return filepath.Join(o.Dir, name) }

// Checker checks one step's exercise.
type Checker func(Options) (*Report, error)

var checkers = map[int]Checker{}

// Check runs step n's check.
func Check(n int, o Options) (*Report, error) {
	c, ok := checkers[n]
	if !ok {
		return nil, fmt.Errorf("step %d has no lab", n)
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	// A directory that is not there is a mistake in the command, not an
	// exercise left undone: say so, as the tool's failure (125), instead of
	// reporting that my-new-root is missing from it.
	// Steps 4 and 6 look at cgroups and containers, not at files here.
	if fi, err := os.Stat(o.Dir); n != 4 && n != 6 && (err != nil || !fi.IsDir()) {
		return nil, exit.Errorf(exit.ToolFailed, "%s does not exist (or is not a directory): --dir names the directory you did the exercise in", o.Dir)
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		// A relative --dir (the default, ".") is read from the working
		// directory, which can be gone: removed after the shell entered it.
		return nil, exit.Errorf(exit.ToolFailed, "the current directory cannot be found (%v): was it removed? cd into the directory you did the exercise in, or name it with --dir", err)
	}
	o.Dir = abs
	r, err := c(o)
	if r != nil {
		r.step = n
	}
	return r, err
}
