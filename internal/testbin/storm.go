package testbin

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// SIGINTStorm sends p SIGINT every half millisecond, from after on, until
// the returned stop is called or p is gone: a Ctrl-C held down, whose first
// signal lands wherever the program happens to be. Call stop once p has
// been waited for.
func SIGINTStorm(p *os.Process, after time.Duration) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		time.Sleep(after)
		for {
			select {
			case <-done:
				return
			default:
			}
			if p.Signal(syscall.SIGINT) != nil {
				return
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}
