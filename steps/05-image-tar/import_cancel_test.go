package imagetar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Ctrl-C during an import stops it where it is, and an import stopped
// anywhere before its tag is written changes nothing in the store. The
// tests cancel at known points (a byte count, a line of narration), never
// after a delay.

// bigArchive is a tar whose second entry is a 1 MB file: a cancellation
// inside it must not wait for its end.
func bigArchive(t *testing.T) []byte {
	return buildTar(t, dir("./"), file("./big", strings.Repeat("x", 1<<20)), dir("./etc/"), file("./etc/x", "x"))
}

func TestTopDirAndNormalizeStopInsideAnEntry(t *testing.T) {
	archive := bigArchive(t)
	for _, tc := range []struct {
		name string
		run  func(context.Context, io.Reader) error
	}{
		{"topDir", func(ctx context.Context, r io.Reader) error { _, _, err := topDir(ctx, r); return err }},
		{"normalize", func(ctx context.Context, r io.Reader) error {
			_, err := normalize(ctx, r, io.Discard, "", nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := &cancelAfter{r: bytes.NewReader(archive), cancel: cancel, after: 4096}
			err := tc.run(ctx, ctxReader{ctx, src})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s cancelled after 4 kB = %v, want context.Canceled", tc.name, err)
			}
			// bytes.Reader hands out what is asked: the read that
			// cancelled may be a large one, but not the whole file.
			if src.read >= len(archive)/2 {
				t.Errorf("%s read %d of %d bytes after the cancellation at 4096: it did not stop inside the big entry", tc.name, src.read, len(archive))
			}
		})
	}
}

func TestTopDirAndNormalizeCheckEveryEntry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// No ctxReader: only the check before each entry can stop them.
	if top, n, err := topDir(ctx, bytes.NewReader(bigArchive(t))); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("topDir with a cancelled context = %q, %d, %v; want no entry and context.Canceled", top, n, err)
	}
	var out bytes.Buffer
	if st, err := normalize(ctx, bytes.NewReader(bigArchive(t)), &out, "", nil); !errors.Is(err, context.Canceled) || st.Entries != 0 {
		t.Errorf("normalize with a cancelled context = %v, %v (%d bytes written); want no entry and context.Canceled", st, err, out.Len())
	}
}

// blockedInput is standard input whose writer never writes nor closes: its
// Read blocks (as read(2) of such a pipe does, with no deadline to end it)
// until the test ends.
type blockedInput struct {
	reading chan struct{} // closed when the first Read has begun
	once    sync.Once
	end     chan struct{}
}

func newBlockedInput(t *testing.T) *blockedInput {
	b := &blockedInput{reading: make(chan struct{}), end: make(chan struct{})}
	t.Cleanup(func() { close(b.end) })
	return b
}

func (b *blockedInput) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	<-b.end
	return 0, io.EOF
}

// lockFree reports whether the store's lock can be taken exclusively at
// once (flock locks belong to an open file: another open of it in this
// process conflicts as another process's would).
func lockFree(t *testing.T, s *Store) bool {
	t.Helper()
	f, err := os.Open(filepath.Join(s.Dir(), LockName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

func TestImportFromStopsWhileItsInputStaysOpen(t *testing.T) {
	s := OpenStore(t.TempDir())
	in := newBlockedInput(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := s.ImportFrom(ctx, sys.Discard(), in, "hang:1")
		result <- err
	}()
	<-in.reading // ImportFrom waits for its input, holding no lock: other commands go on
	if _, err := os.Stat(filepath.Join(s.Dir(), LockName)); err == nil && !lockFree(t, s) {
		t.Fatal("the store's lock is held while ImportFrom waits for its input")
	}
	cancel()
	var err error
	select {
	case err = <-result:
	case <-time.After(time.Minute): // far more than a loaded machine needs
		t.Fatal("ImportFrom was cancelled, and a minute later it still waited for its input")
	}
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ImportFrom cancelled while its input is open = %v, want an *InterruptedError", err)
	}
	if got := storeDirs(t, s); len(got) > 0 {
		t.Errorf("the store holds %q after the interrupted import, want nothing", got)
	}
}

// cancelOn is a narrator's output that cancels a context when a line
// containing phrase is printed: Ctrl-C at exactly that point.
type cancelOn struct {
	phrase string
	cancel func()
	seen   bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.seen.Write(p)
	if strings.Contains(c.seen.String(), c.phrase) {
		c.cancel()
	}
	return len(p), nil
}

func TestImportInterruptedChangesNothing(t *testing.T) {
	archive := bigArchive(t)
	other := buildTar(t, dir("./"), file("./other", "another image"))
	for _, tc := range []struct {
		name    string
		archive []byte
		phrase  string // the narration at which the import is interrupted
		never   string // narration that must not follow
	}{
		// The image is there already (the case that used to end with
		// "only the tag … is added", exit 0).
		{"there, during the rewrite", archive, "mkdirat(", "wrote " + tarName},
		{"there, after the rewrite", archive, "wrote " + tarName, "only the tag"},
		{"there, at its tag", archive, "only the tag", "image a:dup is"},
		// A new image.
		{"new, during the rewrite", other, "mkdirat(", "wrote " + tarName},
		{"new, after the rewrite", other, "wrote " + tarName, "unpacked " + rootfsDir},
		{"new, after the unpack", other, "unpacked " + rootfsDir, "image a:dup is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			s := OpenStore(tmp)
			if _, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, "first.tar", archive), "a:1"); err != nil {
				t.Fatal(err)
			}
			index := filepath.Join(s.Dir(), IndexName)
			indexBefore, _ := os.ReadFile(index)
			dirsBefore := storeDirs(t, s)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelOn{phrase: tc.phrase, cancel: cancel}
			_, err := s.Import(ctx, sys.New(out, sys.Options{}), writeFile(t, tmp, "second.tar", tc.archive), "a:dup")
			var ie *InterruptedError
			if !errors.As(err, &ie) || ie.What != "the half-made image was removed; the store is as it was" {
				t.Fatalf("Import interrupted at %q = %v, want an *InterruptedError\n%s", tc.phrase, err, out.seen.String())
			}
			if ctx.Err() == nil {
				t.Fatalf("the narration never said %q: this test interrupted nothing\n%s", tc.phrase, out.seen.String())
			}
			after := out.seen.String()[strings.Index(out.seen.String(), tc.phrase):]
			if strings.Contains(after, tc.never) {
				t.Errorf("after %q, the interrupted import still went on to %q:\n%s", tc.phrase, tc.never, out.seen.String())
			}
			if indexAfter, _ := os.ReadFile(index); !bytes.Equal(indexAfter, indexBefore) {
				t.Errorf("the interrupted import changed index.json:\n%s\nwas:\n%s", indexAfter, indexBefore)
			}
			if got := storeDirs(t, s); !slices.Equal(got, dirsBefore) {
				t.Errorf("the store holds %q after the interrupted import, %q before it", got, dirsBefore)
			}
			if _, err := s.Resolve("a:dup"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve(a:dup) after the interrupted import = %v, want ErrNotFound", err)
			}
			if !lockFree(t, s) {
				t.Error("the store's lock is still held after Import returned")
			}
		})
	}
}
