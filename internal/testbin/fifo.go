package testbin

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// UnblockFIFO guards a test against code that would open the FIFO at path
// and wait for ever for its other end: if the code still runs 5 s later,
// that other end is opened (a writer, for a reader waiting; else a reader
// that drains what is written), so the code goes on and the test fails
// instead of hanging until its timeout. stop, called once the code has
// returned, reports whether it had to.
func UnblockFIFO(path string) (stop func() (waited bool)) {
	var fired atomic.Bool
	timer := time.AfterFunc(5*time.Second, func() {
		fired.Store(true)
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close() // the reader waiting gets end of file
			return
		}
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			io.Copy(io.Discard, r)
			r.Close()
		}
	})
	return func() bool {
		timer.Stop()
		return fired.Load()
	}
}

// MakeFIFO makes a FIFO at path, guarded as UnblockFIFO guards one: stop,
// called once the code under test has returned, reports whether it waited
// on the FIFO.
func MakeFIFO(t testing.TB, path string) (stop func() (waited bool)) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return UnblockFIFO(path)
}
