package imagetar_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
)

// cancelOn is a narration writer that cancels a context once a line with
// s is written: a Ctrl-C that comes exactly then.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	s      string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if c.cancel != nil && strings.Contains(c.buf.String(), c.s) {
		c.cancel()
		c.cancel = nil
	}
	return len(p), nil
}

// A stop signal that comes once container-root is made, just before step
// 3 starts the container (whose own handlers are not yet there), stops the
// step: the command never runs. It used to be lost, and the command ran.
func TestStep5SignalJustBeforeTheCommand(t *testing.T) {
	testbin.NeedRoot(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w := &cancelOn{s: "container-root/bin/bash is there", cancel: func() { cancel(errors.New("a test's Ctrl-C")) }}
	var out, errOut bytes.Buffer
	_, err := imagetar.Step(ctx, sys.New(w, sys.Options{}), imagetar.StepConfig{
		StateDir: t.TempDir(),
		Args:     []string{"/bin/bash", "-c", "echo the command ran"},
		Stdout:   &out,
		Stderr:   &errOut,
	})
	var ie *imagetar.InterruptedError
	if !errors.As(err, &ie) || strings.Contains(out.String(), "the command ran") {
		t.Errorf("step 5 cancelled as it starts the container = %v, stdout %q; want it interrupted, the command never run\n%s", err, out.String(), w.buf.String())
	}
}
