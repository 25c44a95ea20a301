package chroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/regfile"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// DefaultPath is the PATH a command gets inside a root. The host's own PATH
// names directories (~/go/bin, /snap/bin…) that a small root does not have.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// initName is the hidden command of the child: workshop __init chroot.
const initName = "chroot"

func init() { reexec.Register(initName, func() int { return childMain(jail) }) }

// spec is what the parent tells the child, on fd 3.
type spec struct {
	Root      string
	Path      string // "" means: look argv[0] up in PATH inside the root
	Argv      []string
	Env       []string
	Narration sys.Options
}

// RunProgram runs argv inside root as chroot(1) does: a child process
// calls chroot(root), chdir("/") and execve(path, argv, …), path given apart
// from argv as execve takes them: RunProgram(n, root, "/bin/bash",
// []string{"bash"}, …) makes execve("/bin/bash", ["bash"], …). An empty path
// means argv[0], looked up in PATH inside the root when it has no slash,
// trying each directory as execvp(3) does. It returns the command's exit
// status: its own code, 128+n when a signal killed it, 127 when it is not
// in the root, 126 when it cannot be executed. err is set only when the
// tool itself failed.
func RunProgram(n *sys.Narrator, root, path string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (status int, err error) {
	if len(argv) == 0 {
		return exit.ToolFailed, errors.New("no command to run in the root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return exit.ToolFailed, err
	}
	s := spec{Root: abs, Path: path, Argv: argv, Env: commandEnv(), Narration: n.Options()}
	_, status, err = runChild(n, initName, s, stdin, stdout, stderr)
	return status, err
}

// runChild is the parent's side of both of this step's children (RunProgram's
// and the escape's): start the child named name with its spec, pass
// signals on to it, let it go, report its final execve and wait for it.
// execed says whether that execve succeeded; status is the child's exit
// status, and err is set only when the tool itself failed.
func runChild(n *sys.Narrator, name string, s spec, stdin io.Reader, stdout, stderr io.Writer) (execed bool, status int, err error) {
	c, err := reexec.Command(name)
	if err != nil {
		return false, exit.ToolFailed, fmt.Errorf("prepare the child process: %w", err)
	}
	c.Cmd.Stdin, c.Cmd.Stdout, c.Cmd.Stderr = stdin, stdout, stderr
	// The child, and the command it becomes, die with workshop: a kill -9
	// of workshop must not leave a chrooted command running (or an escape
	// climbing out) with nobody to wait for it. Go's child sets it before
	// its execve, and kills itself if workshop is already gone.
	c.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(n, s); err != nil {
		return false, exit.ToolFailed, err
	}
	stop := forwardSignals(n, c)
	defer stop()
	if err := c.Release(); err != nil {
		c.Wait() // the child gets no go-ahead and exits: collect it
		// Killed for a stop signal before its go-ahead (forwardSignals):
		// the write of the go-ahead found its pipe closed.
		if ierr := c.Interrupted(false, 0); ierr != nil {
			return false, exit.Status(ierr), ierr
		}
		return false, exit.ToolFailed, fmt.Errorf("release the child process: %w", err)
	}
	execed = c.AwaitExec(n)
	status, err = c.Wait()
	// Killed for a signal workshop got before the command ran; a child
	// that saw the signal itself said so, and exited 128+n, by itself.
	if ierr := c.Interrupted(execed, status); ierr != nil && err == nil && c.Signaled() && status == exit.SignalBase+int(unix.SIGKILL) {
		return execed, exit.Status(ierr), ierr
	}
	return execed, status, err
}

// commandEnv is the environment of the command in the root: ours, with
// DefaultPath in place of the host's PATH.
func commandEnv() []string {
	env := []string{"PATH=" + DefaultPath}
	for _, kv := range os.Environ() {
		// In a re-executed child, the environment holds the Go runtime's
		// setting for the child itself: not the command's.
		if !strings.HasPrefix(kv, "PATH=") && !slices.Contains(reexec.RuntimeEnv, kv) {
			env = append(env, kv)
		}
	}
	return env
}

// forwardSignals passes the stop signals (exit.StopSignals) sent to workshop
// on to the child, so that Ctrl-C or a kill stops the command, not the tool
// that waits for it. It returns the function that stops forwarding.
func forwardSignals(n *sys.Narrator, c *reexec.Child) (stop func()) {
	ch := make(chan os.Signal, 4)
	exit.Notify(ch, exit.StopSignals...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range ch {
			// Before its execve, the child holds the signals to stop with a
			// sentence, but one can be lost there: workshop stops the
			// child itself, as step 3 does its container.
			if sig := s.(syscall.Signal); !c.StopBeforeExec(n, sig, "child") {
				n.Kill(c.Pid(), sig)
			}
		}
	}()
	return func() {
		exit.Stop(ch)
		close(ch)
		<-done
	}
}

// childMain is both of this step's children: wait for the parent's
// go-ahead and spec, let enter change the root (jail does what chroot(1)
// does; the escape demo climbs out again), then become the command. A
// signal that comes before the command runs stops it with a sentence.
func childMain(enter func(n *sys.Narrator, root string) error) int {
	held := reexec.HoldSignals() // a Ctrl-C before the exec: a sentence, 128+n
	stderr := reexec.Stderr()    // a closed narration pipe must not kill the child
	var s spec
	if err := reexec.ReadSpec(&s); err != nil {
		reexec.Say("%v", err)
		return exit.ToolFailed
	}
	rep := reexec.ExecReporter()
	n := sys.New(stderr, s.Narration).WithPid(os.Getpid())
	if err := enter(n, s.Root); err != nil {
		reexec.Say("%v", err)
		return exit.ToolFailed
	}
	if status, stopped := held.Stopped(); stopped {
		return status
	}
	return Exec(n, s.Path, s.Argv, s.Env, rep)
}

// jail is what chroot(1) does before its execve.
func jail(n *sys.Narrator, root string) error {
	if err := n.Because("from now on, every absolute path of this process starts in the root").Chroot(root); err != nil {
		return err
	}
	return n.Because("move into the new root, so that no relative path starts outside it").Chdir("/")
}

// Exec replaces this process with the command, as chroot(1) and execvp(3)
// do, narrating each execve: with path set it tries that path only;
// otherwise argv[0] if it has a slash, else each directory of the PATH in
// env. It returns only when no execve succeeded, after printing one sentence
// as chroot(1) does, with the exit status to use: 127 when the command was
// not found, 126 when it was found but could not be executed.
func Exec(n *sys.Narrator, path string, argv, env []string, rep *sys.ExecReporter) int {
	var tries []string
	switch {
	case path != "":
		tries = []string{path}
	case strings.Contains(argv[0], "/"):
		tries = []string{argv[0]}
	default:
		for _, dir := range filepath.SplitList(lookupEnv(env, "PATH")) {
			if dir == "" {
				dir = "."
			}
			tries = append(tries, dir+"/"+argv[0])
		}
	}
	var first, denied error
	for _, p := range tries {
		err := n.Execve(p, argv, env, rep)
		if first == nil {
			first = err
		}
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
			continue // not here: try the next directory, as execvp does
		case errors.Is(err, unix.EACCES):
			denied = err // remembered, and the search goes on, as execvp does
			continue
		}
		return failed(argv[0], err)
	}
	if denied != nil {
		return failed(argv[0], denied)
	}
	if first == nil {
		first = unix.ENOENT // an empty PATH: nothing to try
	}
	return failed(argv[0], first)
}

// failed prints chroot(1)'s sentence and picks the exit status.
func failed(name string, err error) int {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		errno = unix.ENOENT
	}
	msg := errno.Error()
	reexec.Say("failed to run command %q inside the root: %s%s%s", name, strings.ToUpper(msg[:1])+msg[1:], DeniedWhy(err), MissingWhy(err))
	if errno == unix.ENOENT || errno == unix.ENOTDIR {
		return exit.NotFound
	}
	return exit.CannotInvoke
}

// DeniedWhy says, for an execve refused with EACCES, the two reasons its
// mode does not show: the program is a directory, or it sits on a
// filesystem mounted noexec (a state dir on such a mount: every root in
// it). "" for any other error. err names the path (an *os.PathError).
func DeniedWhy(err error) string {
	var pe *os.PathError
	if !errors.Is(err, unix.EACCES) || !errors.As(err, &pe) {
		return ""
	}
	if fi, serr := os.Stat(pe.Path); serr == nil && fi.IsDir() {
		return " (it is a directory)"
	}
	var st unix.Statfs_t
	if unix.Statfs(pe.Path, &st) == nil && st.Flags&unix.ST_NOEXEC != 0 {
		return " (its filesystem is mounted noexec, which lets no program on it run: put the state dir on another filesystem (--state-dir), or remount this one without noexec)"
	}
	return ""
}

// MissingWhy says, for an execve refused with ENOENT although the program
// is there, what is not: the interpreter its #! line names, or the loader
// it is linked with (step 2's lesson). "" for any other error, and for a
// program that is not there. err names the path (an *os.PathError).
func MissingWhy(err error) string {
	var pe *os.PathError
	if !errors.Is(err, unix.ENOENT) || !errors.As(err, &pe) {
		return ""
	}
	if fi, serr := os.Stat(pe.Path); serr != nil || !fi.Mode().IsRegular() {
		return ""
	}
	if interp := shebang(pe.Path); interp != "" {
		if _, err := os.Stat(interp); err != nil {
			return fmt.Sprintf(" (%s is there, but the interpreter its #! line names, %s, is not)", pe.Path, interp)
		}
		if loader := missingLoader(interp); loader != "" {
			return fmt.Sprintf(" (%s is there, and so is the interpreter its #! line names, %s, but the loader that one is linked with, %s, is not: step 2 copies it)", pe.Path, interp, loader)
		}
		return fmt.Sprintf(" (%s is there, and so is its interpreter %s: something that one needs to start is not)", pe.Path, interp)
	}
	if loader := missingLoader(pe.Path); loader != "" {
		return fmt.Sprintf(" (%s is there, but the loader it is linked with, %s, is not: step 2 copies it)", pe.Path, loader)
	}
	return fmt.Sprintf(" (%s is there: something it needs to start is not)", pe.Path)
}

// missingLoader is the ELF loader the program p names when it is not
// there, or "".
func missingLoader(p string) string {
	loader, err := elfinterp.Of(p)
	if err != nil || loader == "" {
		return ""
	}
	if _, err := os.Stat(loader); err == nil {
		return ""
	}
	return loader
}

// shebang is the interpreter the #! line at the start of the file p names,
// or "".
func shebang(p string) string {
	f, err := regfile.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	line := make([]byte, 256)
	n, _ := io.ReadFull(f, line)
	first, _, _ := strings.Cut(string(line[:n]), "\n")
	rest, ok := strings.CutPrefix(first, "#!")
	if fields := strings.Fields(rest); ok && len(fields) > 0 {
		return sys.OneLine(fields[0])
	}
	return ""
}

func lookupEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
