// Command workshop teaches how containers work by building one, step by step,
// on this machine, and printing every system call it makes.
//
// Synopsis:
//
//	workshop steps
//	workshop step N [flags] [-- CMD ARGS…]
//	workshop full run [flags] -- CMD ARGS…
//
// This package only parses flags, calls a step, and maps errors to exit
// codes; the container logic lives under steps/.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/sys"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"

	// Runs a re-executed child before this package's init builds the
	// command line (see childinit).
	_ "github.com/workshop-dev/workshop/cmd/workshop/childinit"
	// Ctrl-\ and a closed narration pipe, answered from the first
	// milliseconds (see guard).
	_ "github.com/workshop-dev/workshop/internal/guard"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	// A re-executed child (the container's init) never reaches cobra:
	// childinit ran it already; this is the fallback.
	reexec.Main()
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit status. Nothing in it
// may end in a Go panic on the student's screen: an unexpected panic becomes
// one sentence and exit 125.
func run(args []string) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "workshop: internal error: %v (this is a bug in workshop; please report it)\n", r)
			status = exit.ToolFailed
		}
	}()
	root := newRootCmd(args)
	root.SetArgs(args)
	out := &firstError{w: os.Stdout}
	root.SetOut(out)
	err := root.Execute()
	var pe *os.PathError
	if errors.Is(out.err, syscall.EPIPE) || errors.As(err, &pe) && pe.Path == os.Stdout.Name() && errors.Is(pe.Err, syscall.EPIPE) {
		// Its reader went away (workshop ps | head -1): nothing more to
		// say, to anyone. Ended as a program killed by SIGPIPE is, the
		// way of every Unix tool in a pipeline, without a sentence.
		return exit.SignalBase + int(syscall.SIGPIPE)
	}
	if out.err != nil && (err == nil || errors.Is(err, out.err) || exit.Silent(err)) {
		// What the command printed did not arrive (stdout on a full disk,
		// /dev/full): its listing or report is lost, which is a failure.
		// (A command that returned the write's own error, as image ls
		// does, gets the same sentence; so does one whose status says
		// all its report had to say, as lab N check's 1, not done yet.)
		err = exit.Errorf(exit.ToolFailed, "write to standard output: %v", stdoutCause(out.err))
	} else if pe != nil && pe.Path == os.Stdout.Name() && pe.Op == "write" {
		// An export to -, whose own write failed: said the same way,
		// not "write /dev/stdout: …".
		err = exit.Errorf(exit.ToolFailed, "write to standard output: %v", pe.Err)
	}
	if err != nil && hint.StateDir() == "" {
		// cobra checks the arguments before PersistentPreRunE reads the
		// flags: the suggestion in 'workshop kill' needs an id (see
		// 'workshop ps') must carry the --state-dir too.
		hintStateDir(root.PersistentFlags().Lookup("state-dir"))
	}
	err = readOnlyStateDir(err)
	if err != nil && !exit.Silent(err) {
		printError(err)
	}
	return exit.Status(err)
}

// stdoutCause is what a failed write to standard output says without its
// path: "no space left on device", not "write /dev/stdout: no space left
// on device" after "write to standard output:".
func stdoutCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == os.Stdout.Name() {
		return pe.Err
	}
	return err
}

// readOnlyStateDir is err, a write in the state dir refused because its
// filesystem is read-only ("mkdir /mnt/ro/step1: read-only file system"),
// with what that means and what to do; any other err as it is.
func readOnlyStateDir(err error) error {
	var pe *os.PathError
	if err == nil || global.stateDir == "" || !errors.Is(err, syscall.EROFS) || !errors.As(err, &pe) || !imagetar.Holds(global.stateDir, pe.Path) {
		return err
	}
	return exit.Errorf(exit.Status(err), "%v: the state dir %s is on a read-only filesystem, and workshop keeps its roots, images and containers there; give one on a writable filesystem with --state-dir", err, global.stateDir)
}

// printError writes err as workshop's sentence on stderr: one line,
// whatever a name in it holds (sys.OneLine), its hints with the --state-dir.
func printError(err error) {
	fmt.Fprintf(os.Stderr, "workshop: %s\n", sys.OneLine(hint.Rewrite(err.Error())))
}

// eachOf does do for each of words, as docker's commands that take several
// do: one that fails is said, and the others are still done; the status
// then says which were not ("2 of the 3 names given were not removed").
// With one word, its error is the command's own.
func eachOf(words []string, noun, notDone string, do func(word string) error) error {
	if len(words) == 1 {
		return do(words[0])
	}
	var failed []string
	for _, w := range words {
		if err := do(w); err != nil {
			printError(err)
			failed = append(failed, w)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	verb := "were"
	if len(failed) == 1 {
		verb = "was"
	}
	return exit.Errorf(exit.ToolFailed, "%d of the %d %s given %s %s (%s): each said why above", len(failed), len(words), noun, verb, notDone, strings.Join(failed, ", "))
}

// firstError is a writer that keeps the first error of its writes.
type firstError struct {
	w   io.Writer
	err error
}

func (f *firstError) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}
