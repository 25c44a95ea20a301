package namespaces

import (
	"io"
	"os"
	"slices"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The container's piped outputs: a reader gone (`| head`) ends a PID 1 that
// SIGPIPE does not.

// pipedOutputs are the descriptors of the container's outputs, out and
// errOut, that are pipes or sockets given to it as they are (the caller's
// own, given: not a pipe workshop copies to a terminal), each once, and
// what they are.
func pipedOutputs(out, errOut, given, givenErr io.Writer) (fds []int, names []string) {
	var files []*os.File
	for _, o := range []struct {
		w, given io.Writer
		name     string
	}{{out, given, "standard output"}, {errOut, givenErr, "standard error"}} {
		f, ok := o.w.(*os.File)
		if !ok || o.w != o.given || !writesToPipe(f) {
			continue
		}
		if len(files) == 1 && sameFile(files[0], f) {
			names[0] = "standard output and error"
			continue
		}
		files = append(files, f)
		fds = append(fds, int(f.Fd()))
		names = append(names, o.name)
	}
	return fds, names
}

// watchReaders watches the container's outputs that are pipes while it
// runs, every tenth of a second: with a PID namespace and no init, the
// command is a PID 1, and the kernel sends a PID 1 no signal it has no
// handler for, SIGPIPE included. Where any other process writing to a
// pipe whose reader has gone (workshop full run -- yes | head) is ended at
// its next write, a PID 1 gets EPIPE and may go on for ever. So once the
// reader is gone, workshop sends SIGPIPE (for a handler it may have), and
// kills the container readerGrace later if it still runs: also one that
// would not have written again (sh -c 'work; echo done >&2' | true), which
// a PID 1 that is not would finish; workshop does not see the container's
// writes (they go straight to the pipe), and ending a pipeline's writer
// whose reader went is the pipeline's way. It returns the calls made and
// not printed.
func (c *Container) watchReaders(waited <-chan struct{}) (calls int) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-waited:
			return calls
		case <-tick.C:
		}
		fd, made, err := c.n.OutputReaderGone(c.readers)
		calls += made
		if err != nil {
			return calls
		}
		if fd < 0 {
			continue
		}
		calls-- // the call that found it is printed
		what := c.readerNames[slices.Index(c.readers, fd)]
		c.unlessEnded(func() {
			c.n.Together(func(n *sys.Narrator) {
				n.Note("the reader of the container's %s has gone (as head goes once it has its lines): any other process would be ended by SIGPIPE at its next write, "+
					"but the kernel sends a PID 1 no signal it has no handler for; workshop sends SIGPIPE, for a handler it may have, and ends the container if it still runs %s later, "+
					"whether or not it writes again (workshop does not see its writes, and its output has nowhere to go)", what, readerGrace)
				n.Kill(c.Pid(), unix.SIGPIPE)
			})
		})
		t := time.NewTimer(readerGrace)
		defer t.Stop()
		select {
		case <-waited:
			return calls
		case <-t.C:
		}
		c.unlessEnded(func() {
			c.n.Note("the container went on without the reader of its %s: workshop kills its PID 1, and with it its PID namespace, and exits 141, as a shell reports a writer that SIGPIPE ended", what)
			c.readerKilled = c.n.Kill(c.Pid(), unix.SIGKILL) == nil
		})
		return calls
	}
}

// writesToPipe reports whether the command's output goes to a pipe: then
// workshop is in a pipeline (workshop step 3 -- ps | less) whose other
// programs share its process group, and handing the terminal to the
// container's would put them in the background, where less reading the
// keyboard is stopped. (Output to a file keeps the terminal for the
// container: its input may be typed.)
func writesToPipe(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	// A socket too: ksh93 joins a pipeline's programs with socketpairs.
	return err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
}
