package namespaces

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// outputPipe carries the output of a container that was not handed the
// terminal to that terminal, as docker run does without -t. In a session
// of its own, outside the terminal's job control, the container could
// otherwise read the terminal through its stdout or stderr, taking the
// keys typed to the shell (a password among them) while workshop runs in
// the background, and change its settings. Its programs see a pipe.
type outputPipe struct {
	r     *os.File  // the read end, workshop's
	w     *os.File  // the write end, the container's once Start has cloned it
	term  *os.File  // where the output goes
	to    io.Writer // term, but for tests that watch its writes
	names []string  // the container's outputs that go to it: stdout, stderr
	done  chan struct{}

	mu   sync.Mutex
	read int64 // bytes read from the pipe so far
	// unwritten are the bytes read not on the terminal yet: being written
	// (Ctrl-S holds a write), or held back (holdLine).
	unwritten int
	// ending: the command has ended (finish): nothing more is held back,
	// so that what it left running cannot keep the copy from its end.
	ending atomic.Bool
	err    error // the first failed write to the terminal
}

// pipeOutputs makes a pipe for each output of a container that is a
// terminal, and points the output at its write end: one pipe for both when
// both are the same terminal, so the two streams stay in the order they
// were written. It returns none, and changes nothing, when neither is.
func pipeOutputs(n *sys.Narrator, stdout, stderr *io.Writer) ([]*outputPipe, error) {
	var pipes []*outputPipe
	for _, out := range []struct {
		w    *io.Writer
		name string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		t := terminalOf(*out.w)
		if t == nil {
			continue
		}
		if len(pipes) == 1 && sameFile(pipes[0].term, t) {
			*out.w = pipes[0].w
			pipes[0].names = append(pipes[0].names, out.name)
			continue
		}
		r, w, err := n.Because("the terminal is not the container's: its output goes through a pipe, which workshop copies to the terminal").Pipe()
		if err != nil {
			for _, p := range pipes {
				p.abandon(n)
			}
			return nil, err
		}
		*out.w = w
		p := &outputPipe{r: r, w: w, term: t, to: t, names: []string{out.name}, done: make(chan struct{})}
		go p.copy()
		pipes = append(pipes, p)
	}
	for _, p := range pipes {
		verb := "goes"
		if len(p.names) > 1 {
			verb = "go"
		}
		n.Note("its %s %s to that pipe, not to the terminal: the container can neither read what you type nor change the terminal's settings, and its programs see no terminal (as under docker run without -t). "+
			"(Go's os.Pipe also made both ends non-blocking, for its poller, with fcntl; os/exec makes the container's end blocking again before the clone.)", strings.Join(p.names, " and "), verb)
	}
	return pipes, nil
}

// terminalOf is w when it is a terminal, or nil.
func terminalOf(w io.Writer) *os.File {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// sameFile reports whether a and b are the same device or file.
func sameFile(a, b *os.File) bool {
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// started closes workshop's copy of the write end, once the child has its
// own (or the clone failed): the copy then ends when the container's last
// writer does.
func (o *outputPipe) started(n *sys.Narrator) {
	n.Because("the container has its own copy of the pipe's write end: with workshop's closed, the read end sees the end once the container's are").ClosePipeEnd(o.w)
	o.w = nil
}

// holdLine is how long the copy keeps back the unfinished last line of
// what it read, waiting for the rest: a program writing to a pipe flushes
// its buffer where it is full, mid-line, and workshop's narration, written
// to the same terminal between two such writes, landed inside a line
// ("1277kill(2699, SIGINT) = 0"). A line left unfinished for longer, a
// prompt, or one that grows a little at a time, is written as it is once it
// has waited that long; and once the command has ended (finish), nothing
// is held.
var holdLine = 30 * time.Millisecond // a var for the tests

// copy copies the pipe to the terminal until the pipe's end, or until
// finish closes it, a line at a time where it can (holdLine). Once a
// write fails (the terminal hung up), the rest is read and dropped: a
// command writing to a pipe nobody reads would wait for ever once it is
// full.
func (o *outputPipe) copy() {
	defer close(o.done)
	buf := make([]byte, 32<<10)
	var held []byte         // read, not yet written: an unfinished line
	var heldSince time.Time // when the held line began
	for {
		// A deadline only while a line is held: holdLine after it
		// began, not after its last piece (dots printed a hundredth of
		// a second apart were held until the line ended).
		deadline := time.Time{}
		if len(held) > 0 {
			deadline = heldSince.Add(holdLine)
		}
		o.r.SetReadDeadline(deadline)
		n, err := o.r.Read(buf)
		wasHeld := len(held) > 0
		held = append(held, buf[:n]...)
		out := held
		if err == nil && len(held) < len(buf) && !o.ending.Load() {
			out = held[:bytes.LastIndexByte(held, '\n')+1]
		}
		o.mu.Lock()
		o.read += int64(n)
		o.unwritten = len(held)
		failed := o.err != nil
		o.mu.Unlock()
		var werr error
		if len(out) > 0 && !failed {
			_, werr = o.to.Write(out)
		}
		if len(out) > 0 || !wasHeld {
			// What is left, if anything, began with this read.
			heldSince = time.Now()
		}
		held = append(held[:0], held[len(out):]...)
		o.mu.Lock()
		if werr != nil {
			o.err = werr
		}
		if o.err != nil {
			held = held[:0]
		}
		o.unwritten = len(held)
		o.mu.Unlock()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// endGrace is how long, once all the command wrote has reached the
// terminal, the copy waits for the pipe's end: a process the command left
// may hold its write end for ever.
const endGrace = 100 * time.Millisecond

// finish waits, once the command has ended, until all it wrote has reached
// the terminal, for as long as the terminal takes (Ctrl-S, a slow link),
// then, for endGrace at most, for the pipe's end; and says what kept it.
func (o *outputPipe) finish(n *sys.Narrator) {
	o.ending.Store(true)
	// What the command wrote is read already, or still in the pipe:
	// FIONREAD (TIOCINQ, its other name) says how much.
	unread, _ := unix.IoctlGetInt(sys.RawFd(o.r), unix.TIOCINQ)
	o.mu.Lock()
	target := o.read + int64(unread)
	o.mu.Unlock()
	tick := time.NewTicker(endGrace / 10)
	defer tick.Stop()
	var copied time.Time // when all the command wrote had reached the terminal
	cut := false
wait:
	for {
		select {
		case <-o.done:
			break wait
		case <-tick.C:
		}
		o.mu.Lock()
		all := o.read >= target && o.unwritten == 0
		o.mu.Unlock()
		switch {
		case !all:
			copied = time.Time{}
		case copied.IsZero():
			copied = time.Now()
		case time.Since(copied) >= endGrace:
			cut = true
			n.Because("a process the command left holds the pipe's write end: the copy stops here").ClosePipeEnd(o.r)
			<-o.done
			break wait
		}
	}
	if !cut {
		n.Because("the pipe is at its end: all the container wrote is on the terminal").ClosePipeEnd(o.r)
	} else {
		n.Note("a process the command left still held the %s pipe after it ended: its later output is not copied (its next write fails: EPIPE, or SIGPIPE)", strings.Join(o.names, " and "))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		n.Note("the terminal stopped taking the container's output (%v): the rest of it was read from the pipe and dropped, so that the command never waited on a full pipe", o.err)
	}
}

// abandon closes both ends at once, where the container never ran (a
// start that failed): nothing of its is to be copied.
func (o *outputPipe) abandon(n *sys.Narrator) {
	if o.w != nil {
		n.ClosePipeEnd(o.w)
		o.w = nil
	}
	n.ClosePipeEnd(o.r)
	<-o.done
}
