package sys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFlockNarratesItsResult(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	n := New(&out, Options{})
	if err := n.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("Flock = %v, want nil", err)
	}
	// A second open file description cannot take it: EWOULDBLOCK, at once.
	g, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	err = n.Flock(int(g.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("Flock of a held lock = %v, want EWOULDBLOCK", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], ", LOCK_EX|LOCK_NB) = 0") ||
		!strings.Contains(lines[1], ", LOCK_EX|LOCK_NB) = -1 EAGAIN") {
		t.Errorf("narration = %q, want flock(N, LOCK_EX|LOCK_NB) = 0, then = -1 EAGAIN", lines)
	}
}
