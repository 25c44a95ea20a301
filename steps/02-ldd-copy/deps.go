package lddcopy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/u-root/u-root/pkg/ldd"
	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
)

// NotFoundError says a program named by the student is not on the host.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: no such program on the host", e.Name)
}

// NotProgramError says a path named as a program is a file no one may
// execute on the host (/etc/shadow): no program, and never copied into a
// root, which would carry the host's file into every image made from it.
type NotProgramError struct {
	Name string
	Mode os.FileMode
}

func (e *NotProgramError) Error() string {
	return fmt.Sprintf("%s is not executable on the host (mode %#o): not a program", e.Name, e.Mode.Perm())
}

// Lookup finds a program on the host: a name without a slash in the host's
// PATH, as a shell would; a path as it is. The result is the path as found,
// not with its symlinks resolved, so that the root gets the same names.
func Lookup(name string) (string, error) {
	if name == "" {
		return "", &NotFoundError{Name: `""`}
	}
	p := name
	if !strings.Contains(name, "/") {
		found, err := lookPath(name)
		if err != nil {
			return "", &NotFoundError{Name: name}
		}
		p = found
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.Mode().IsRegular() {
		return "", &NotFoundError{Name: name}
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return "", &NotProgramError{Name: name, Mode: fi.Mode()}
	}
	return abs, nil
}

// Program is one program to put in the root, and what it needs.
type Program struct {
	Path string // on the host
	// Also are other names of the same file that were asked for.
	Also []string
	// Interp is the ELF interpreter (the dynamic loader), or for a script
	// the program its "#!" line names. "" for a static binary.
	Interp string
	Script bool
	// EnvProgram is what "#!/usr/bin/env python3" runs (python3): env
	// finds it in the PATH, so it comes along too.
	EnvProgram string
	// CR: the script's "#!" line ends in a carriage return (Windows line
	// ends), which the kernel keeps in its last word.
	CR bool
	// Missing is the program a script's "#!" line needs (its interpreter,
	// or env's program) that this machine does not have: the script is
	// copied anyway, and its execve fails as it would anywhere.
	Missing string
	// Libs are the shared libraries the loader found, sorted.
	Libs []string
}

// Static reports whether the program needs nothing but itself.
func (p Program) Static() bool { return p.Interp == "" }

// Resolve looks up each of names on the host (Lookup) and adds, after it,
// the interpreter each script's "#!" line names (and what that needs), each
// program once. It asks the dynamic loader for each binary's libraries. On
// an error it returns with it the programs looked at so far, the last one
// the program whose loader failed, if it did: their loader runs happened.
func Resolve(names []string) ([]Program, error) {
	var progs []Program
	seen := map[string]int{} // the real file -> its index in progs
	var add func(name string, depth int) error
	add = func(name string, depth int) error {
		p, err := Lookup(name)
		if err != nil {
			return err
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if i, ok := seen[real]; ok {
			// Another name of a program we have (/bin/ls, /usr/bin/ls on
			// a merged-/usr host): listed once, placed under both names.
			if p != progs[i].Path && !slices.Contains(progs[i].Also, p) {
				progs[i].Also = append(progs[i].Also, p)
			}
			return nil
		}
		seen[real] = len(progs)
		prog, err := inspect(p)
		if err != nil {
			if !prog.Static() && !prog.Script {
				progs = append(progs, prog) // its loader ran, and failed
			}
			return err
		}
		i := len(progs)
		progs = append(progs, prog)
		if prog.Script {
			if depth > 4 {
				return fmt.Errorf("%s: too many #! interpreters in a row", p)
			}
			// An interpreter the host lacks is not an error of the copy:
			// the script goes in, and its execve fails with ENOENT, as it
			// does on any machine without that interpreter.
			var nf *NotFoundError
			if err := add(prog.Interp, depth+1); errors.As(err, &nf) {
				progs[i].Missing = prog.Interp
				return nil
			} else if err != nil {
				return fmt.Errorf("%s is a script run by %s: %w", p, prog.Interp, err)
			}
			if prog.EnvProgram != "" {
				if err := add(prog.EnvProgram, depth+1); errors.As(err, &nf) {
					progs[i].Missing = prog.EnvProgram
				} else if err != nil {
					return fmt.Errorf("%s is a script run by env %s: %w", p, prog.EnvProgram, err)
				}
			}
		}
		return nil
	}
	for _, name := range names {
		if err := add(name, 0); err != nil {
			return progs, err
		}
	}
	return progs, nil
}

// inspect reads what kind of program path is, and its libraries.
func inspect(path string) (Program, error) {
	prog := Program{Path: path}
	if words, ok := shebang(path); ok {
		prog.Script = true
		prog.Interp = words[0]
		prog.CR = strings.HasSuffix(words[len(words)-1], "\r")
		if filepath.Base(words[0]) == "env" {
			prog.EnvProgram = envProgram(words)
		}
		return prog, nil
	}
	interp, err := elfinterp.Of(path)
	if err != nil || interp == "" {
		// Not ELF (we cannot know what it needs), or static: itself only.
		return prog, nil
	}
	prog.Interp = interp
	// ldd.List runs the loader with --list, as ldd(1) does, and returns the
	// interpreter and the libraries in no particular order.
	started := time.Now()
	all, err := ldd.List(path)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig := ws.Signal()
			// A Ctrl-C at the terminal reaches the loader and workshop
			// both: workshop is stopped by it, as it would have been
			// without the loader, and says so (not the loader's death,
			// as a failure, 125).
			if exit.AwaitOwnStop(sig, started, 250*time.Millisecond) {
				return prog, exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s while the loader listed the libraries of %s, before anything was copied", sys.SignalName(sig), path)
			}
			how := "was killed by " + sys.SignalName(sig)
			if slices.Contains(exit.FaultSignals, os.Signal(sig)) {
				how = "crashed with " + sys.SignalName(sig)
			}
			return prog, fmt.Errorf("list the libraries of %s: the dynamic loader, run with --list to name them, %s", path, how)
		}
	}
	if err != nil {
		return prog, fmt.Errorf("list the libraries of %s: %w", path, err)
	}
	for _, l := range all {
		if l != interp {
			prog.Libs = append(prog.Libs, l)
		}
	}
	sort.Strings(prog.Libs)
	return prog, nil
}

// lookPath finds a command on the host's PATH, or, where workshop runs
// with none (env -i, a bare service), on the one a container gets: the
// same name must not be found inside the root and missing on the host.
func lookPath(name string) (string, error) {
	if os.Getenv("PATH") != "" {
		return exec.LookPath(name)
	}
	for _, dir := range filepath.SplitList(chroot.DefaultPath) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// shebang reads a script's "#!interp args…" line: the interpreter and its
// arguments.
func shebang(path string) (words []string, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	rest, found := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "#!")
	// Split as the kernel does: on spaces and tabs only. A carriage return
	// (a script saved with Windows line ends) stays in the interpreter's
	// name, as it does for the kernel, which then finds no "/bin/sh\r".
	words = strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' })
	return words, found && len(words) > 0
}

// envProgram is the program "#!/usr/bin/env [-S] prog" runs.
func envProgram(words []string) string {
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") {
			return w
		}
	}
	return ""
}

// Files returns every host path the programs need in the root, sorted:
// the programs, and for the dynamic ones their interpreter and libraries
// (as Resolve had the loader list them), each with the whole chain of
// symlinks that leads to the real file. That is what ldd.FList returns; it
// is done here because FList would run the loader again for every program.
func Files(progs []Program) ([]string, error) {
	set := map[string]bool{}
	for _, p := range progs {
		set[p.Path] = true
		for _, a := range p.Also {
			set[a] = true
		}
		if p.Script || p.Static() {
			continue
		}
		for _, lib := range append([]string{p.Interp}, p.Libs...) {
			if err := symlinkChain(lib, set); err != nil {
				return nil, fmt.Errorf("the libraries of %s: %w", p.Path, err)
			}
		}
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// symlinkChain adds path to set and, while it is a symlink, what it points
// to (a relative link read from the link's directory), up to a file that
// is not one: the loader opens libc.so.6, a link, and the root needs the
// link and the file both.
func symlinkChain(path string, set map[string]bool) error {
	for {
		path = filepath.Clean(path)
		if set[path] {
			return nil
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		set[path] = true
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		next, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(next) {
			next = filepath.Join(filepath.Dir(path), next)
		}
		path = next
	}
}

// PrintDeps writes what each program needs the way ldd(1) prints it.
func PrintDeps(w io.Writer, progs []Program) {
	for _, p := range progs {
		fmt.Fprintf(w, "%s:\n", p.Path)
		switch {
		case p.Script && p.Missing != "" && p.Missing == p.EnvProgram && strings.HasSuffix(p.Missing, "\r"):
			fmt.Fprintf(w, "\ta script: its #! line ends in a carriage return (the file was saved with Windows line ends), "+
				"so env looks for %q, which no machine has, and exits 127; "+
				"convert the file (dos2unix %s, or sed -i 's/\\r$//' %s)\n", p.Missing, p.Path, p.Path)
		case p.Script && strings.HasSuffix(p.Missing, "\r"):
			fmt.Fprintf(w, "\ta script: its #! line ends in a carriage return (the file was saved with Windows line ends), "+
				"so the kernel looks for the interpreter %q, which no machine has: its execve will fail with ENOENT; "+
				"convert the file (dos2unix %s, or sed -i 's/\\r$//' %s)\n", p.Missing, p.Path, p.Path)
		case p.Script && p.CR:
			fmt.Fprintf(w, "\ta script: its #! line names %s, which comes along; but the line ends in a carriage return "+
				"(Windows line ends), which its last argument keeps: convert the file (dos2unix %s)\n", p.Interp, p.Path)
		case p.Script && p.Missing != "":
			fmt.Fprintf(w, "\ta script: its #! line needs %s, which this machine does not have: "+
				"its execve will fail with ENOENT, the kernel's answer for a missing interpreter too\n", p.Missing)
		case p.Script:
			fmt.Fprintf(w, "\ta script: its #! line names %s, which comes along\n", p.Interp)
		case p.Static():
			fmt.Fprintf(w, "\tnot a dynamic executable\n")
		default:
			for _, l := range p.Libs {
				fmt.Fprintf(w, "\t%s => %s\n", filepath.Base(l), l)
			}
			fmt.Fprintf(w, "\t%s (the ELF interpreter: the kernel runs it to load the rest)\n", p.Interp)
		}
	}
}
