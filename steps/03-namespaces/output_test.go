package namespaces

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
)

// writeLog records each Write it is given, as the terminal would take it.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(p))
	return len(p), nil
}

// waitFor waits until the log holds n writes, and returns them.
func (l *writeLog) waitFor(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		got := append([]string(nil), l.writes...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("the copy made fewer than %d writes in 10 s", n)
	return nil
}

// copying starts an outputPipe's copy into a writeLog, as pipeOutputs
// does into a terminal, with holdLine set to hold.
func copying(t *testing.T, hold time.Duration) (*outputPipe, *writeLog) {
	t.Helper()
	old := holdLine
	holdLine = hold
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &writeLog{}
	o := &outputPipe{r: r, w: w, to: log, done: make(chan struct{})}
	go o.copy()
	t.Cleanup(func() {
		w.Close()
		<-o.done
		r.Close()
		holdLine = old
	})
	return o, log
}

// A program writing to a pipe flushes mid-line; the copy writes whole
// lines, so that narration written between two of its writes falls
// between lines.
func TestOutputCopyKeepsLinesWhole(t *testing.T) {
	o, log := copying(t, time.Hour)
	o.w.Write([]byte("first line\nsecond li"))
	if got := log.waitFor(t, 1); got[0] != "first line\n" {
		t.Fatalf("first write to the terminal: %q, want the finished line only", got[0])
	}
	o.w.Write([]byte("ne\nthird"))
	if got := log.waitFor(t, 2); got[1] != "second line\n" {
		t.Fatalf("second write to the terminal: %q, want the line whole", got[1])
	}
	// The pipe's end writes what is held.
	o.w.Close()
	<-o.done
	if got := log.waitFor(t, 3); got[2] != "third" || len(got) != 3 {
		t.Fatalf("writes at the pipe's end: %q, want the unfinished line last", got)
	}
}

// An unfinished line (a prompt) is written once it has waited holdLine.
func TestOutputCopyWritesAPromptAfterItsHold(t *testing.T) {
	const hold = 200 * time.Millisecond
	o, log := copying(t, hold)
	start := time.Now()
	o.w.Write([]byte("$ "))
	got := log.waitFor(t, 1)
	if waited := time.Since(start); got[0] != "$ " || waited < hold {
		t.Fatalf("the prompt came as %q after %v; want \"$ \" after %v at least", got, waited, hold)
	}
	// And the copy goes on after it, a line at a time.
	o.w.Write([]byte("echo hi\n"))
	if got := log.waitFor(t, 2); got[1] != "echo hi\n" {
		t.Fatalf("after the prompt: %q", got[1])
	}
}

// A line longer than the copy's buffer is not held for ever: what fills
// the buffer is written at once.
func TestOutputCopyWritesALongLineAsItComes(t *testing.T) {
	o, log := copying(t, time.Hour)
	long := strings.Repeat("x", 100<<10)
	go o.w.Write([]byte(long))
	var n int
	for _, w := range log.waitFor(t, 1) {
		n += len(w)
	}
	if n == 0 {
		t.Fatal("nothing of a 100 KiB line was written")
	}
}

// A line that grows a little at a time (dots, a hundredth of a second
// apart) is written holdLine after it began, not held until it ends: the
// hold was renewed by every piece, and nothing came for as long as they
// did.
func TestOutputCopyWritesAGrowingLineAfterItsHold(t *testing.T) {
	const hold = 100 * time.Millisecond
	o, log := copying(t, hold)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				o.w.Write([]byte("."))
			}
		}
	}()
	start := time.Now()
	log.waitFor(t, 1)
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the first dots of a growing line reached the terminal after %v; want about %v", waited, hold)
	}
}

// Once the command has ended, a process it left that keeps writing
// unfinished lines to the pipe is cut off (finish returns): the held line
// kept the copy from ever being "all written", and workshop waited for
// ever, its mount and cgroup left in place.
func TestOutputFinishCutsALeftWriterOfUnfinishedLines(t *testing.T) {
	o, _ := copying(t, 30*time.Millisecond)
	o.names = []string{"stdout"}
	w := o.w // the left process's copy of the write end
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if _, err := w.Write([]byte(".")); err != nil {
					return // cut off: EPIPE
				}
			}
		}
	}()
	defer func() { close(stop); <-wrote }()
	time.Sleep(50 * time.Millisecond) // some dots written
	var narration strings.Builder
	done := make(chan struct{})
	go func() {
		o.finish(sys.New(&narration, sys.Options{}))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("finish still waits 10 s after the command's end, for a process that keeps writing dots")
	}
	if !strings.Contains(narration.String(), "still held the stdout pipe after it ended") {
		t.Errorf("finish said:\n%s", narration.String())
	}
}
