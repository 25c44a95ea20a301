package namespaces

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
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
