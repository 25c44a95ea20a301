package imagetar_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

const halfImage = "the half-made image was removed; the store is as it was"

// `sleep 100 | workshop image import - hang:1`, then Ctrl-C: workshop
// stops at once, although its standard input is still open, and leaves the
// store to the next command.
func TestImageImportStdinInterruptedWhileItsInputIsOpen(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	w := testbin.Start(t, "", testbin.Bin(t), "--state-dir", state, "image", "import", "-", "hang:1")
	// Its standard input stays open, and nothing is written to it, until
	// workshop has ended.
	// The spool file is made once the signal handler is in place:
	// workshop now waits for its input.
	for deadline := time.Now().Add(time.Minute); !spooling(w.Cmd.Process.Pid, state); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // far more than a loaded machine needs
			t.Fatalf("after a minute, the import had made no spool file in %s/images:\n%s", state, w.Stderr)
		}
	}
	// It holds no lock while it waits: the other store commands go on
	// (they used to wait for as long as its input stayed open).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, testbin.Bin(t), "--state-dir", state, "image", "ls").CombinedOutput(); err != nil {
		t.Errorf("image ls while an import waits for its input: %v (%v)\n%s", err, ctx.Err(), out)
	}
	w.Signal(syscall.SIGINT)
	want := "workshop: interrupted by SIGINT: " + halfImage
	w.Stderr.WaitFor(t, want) // before the fix: only once its input ended
	if !w.Stderr.WaitEOF(time.Minute) {
		t.Fatalf("a minute after its last line, workshop's stderr is still open:\n%s", w.Stderr)
	}
	err := w.Cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || lastLine(w.Stderr.String()) != want {
		t.Errorf("import - interrupted = %v, stderr:\n%s\nwant 130 and the last line %q", err, w.Stderr, want)
	}
	if left := newEntries(t, state); len(left) > 0 {
		t.Errorf("the interrupted import left %q", left)
	}
	// The store's lock is free: the next command goes on.
	if r := testbin.Run(t, "", "--state-dir", state, "image", "ls"); r.Code != 0 || strings.Contains(r.Stdout, "hang") {
		t.Errorf("image ls after the interrupted import = %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	w.Stdin.Close()
}

// Ctrl-C as an import opens its file, for an image the store holds already
// and for a new one: the import stops before its rewrite, and no tag is
// added (it used to say "only the tag … is added" and exit 0).
func TestImageImportFileInterrupted(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	ws := func(args ...string) testbin.Result {
		return testbin.Run(t, "", append([]string{"--state-dir", state}, args...)...)
	}
	dir := t.TempDir()
	there := filepath.Join(dir, "there.tar")
	fresh := filepath.Join(dir, "fresh.tar")
	if err := os.WriteFile(there, tarOf(t, [3]string{"./", "5", ""}, [3]string{"./etc/", "5", ""}, [3]string{"./etc/x", "0", "x"}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fresh, tarOf(t, [3]string{"./", "5", ""}, [3]string{"./etc/", "5", ""}, [3]string{"./etc/y", "0", "y"}), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := ws("image", "import", there, "big:1"); r.Code != 0 {
		t.Fatalf("image import = %d\n%s", r.Code, r.Stderr)
	}
	index := filepath.Join(state, "images", "index.json")
	for _, tc := range []struct {
		name, file string
		sig        syscall.Signal
	}{
		{"already there", there, syscall.SIGINT},
		{"new", fresh, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			indexBefore, _ := os.ReadFile(index)
			before := ws("image", "ls").Stdout
			code, stderr := interruptAt(t, tc.file, tc.sig, "--state-dir", state, "image", "import", tc.file, "big:dup")
			want := "workshop: interrupted by " + sys.SignalName(tc.sig) + ": " + halfImage
			if code != 128+int(tc.sig) || lastLine(stderr) != want {
				t.Errorf("image import interrupted = %d, stderr:\n%s\nwant %d and the last line %q", code, stderr, 128+int(tc.sig), want)
			}
			for _, never := range []string{"wrote rootfs.tar", "only the tag", "image big:dup is"} {
				if strings.Contains(stderr, never) {
					t.Errorf("the interrupted import went on to %q:\n%s", never, stderr)
				}
			}
			if indexAfter, _ := os.ReadFile(index); string(indexAfter) != string(indexBefore) {
				t.Errorf("the interrupted import changed index.json:\n%s\nwas:\n%s", indexAfter, indexBefore)
			}
			if left := newEntries(t, state); len(left) > 0 {
				t.Errorf("the interrupted import left %q in the store", left)
			}
			if after := ws("image", "ls").Stdout; after != before {
				t.Errorf("image ls after the interrupted import:\n%s\nbefore it:\n%s", after, before)
			}
		})
	}
}
