package imagetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

var bg = context.Background()

func writeFile(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	mustDo(t, os.WriteFile(p, b, 0o644))
	return p
}

// storeDirs lists the store's directory, to see that nothing stray is left.
func storeDirs(t *testing.T, s *Store) []string {
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if len(e.Name()) == 64 {
			names = append(names, "ID")
		} else {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestStorePackResolveAndTheID(t *testing.T) {
	root := makeTree(t)
	s := OpenStore(t.TempDir())
	img, err := s.Pack(bg, sys.Discard(), root, "demo:1")
	if err != nil {
		t.Fatalf("Pack = %v", err)
	}
	b, err := os.ReadFile(img.Tar)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != img.ID {
		t.Errorf("id %s is not the sha256 of %s", img.ID, img.Tar)
	}
	if got, want := describe(t, img.Rootfs), describe(t, root); got != want {
		t.Errorf("the image's rootfs differs from the packed root:\n%s\nwant\n%s", got, want)
	}
	if img.Size != 20000+18+2+4 || img.Entries != 16 {
		t.Errorf("Size %d, Entries %d; want the bytes of the root's files (20024) and 16 entries", img.Size, img.Entries)
	}
	for _, ref := range []string{"demo:1", img.ShortID(), img.ID, "sha256:" + img.ID} {
		got, err := s.Resolve(ref)
		if err != nil || got.ID != img.ID || got.Rootfs != img.Rootfs {
			t.Errorf("Resolve(%q) = %+v, %v; want %s", ref, got, err, img.ID)
		}
	}
	// The same root again, another tag: the same image, stored once.
	again, err := s.Pack(bg, sys.Discard(), root, "demo:again")
	if err != nil || again.ID != img.ID {
		t.Errorf("Pack of the same root = %v, %v; want the same id", again.ID, err)
	}
	if got := strings.Join(storeDirs(t, s), " "); got != "ID index.json lock" {
		t.Errorf("store holds %q, want one image, the index and the lock", got)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the store's directory is %v, %v; want 0700: images hold other people's set-user-ID programs", fi.Mode(), err)
	}
}

func TestStoreResolveMissing(t *testing.T) {
	s := OpenStore(t.TempDir())
	_, err := s.Resolve("nope:2")
	if !errors.Is(err, ErrNotFound) || exit.Status(err) != 125 {
		t.Fatalf("Resolve(missing) = %v (status %d), want ErrNotFound and 125", err, exit.Status(err))
	}
	if msg := err.Error(); !strings.Contains(msg, "there is no image nope:2") || strings.Count(msg, "\n") > 0 {
		t.Errorf("Resolve(missing) says %q, want one sentence naming the image", msg)
	}
	if _, err := s.Resolve("Bad Name"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(bad name) = %v, want a sentence about the name", err)
	}
}

// The top-level directory an import strips is the archive's to name: one
// with an escape sequence, a carriage return and a newline in it is said
// quoted, and never reaches the terminal raw (where it recoloured the
// output and forged a line of workshop's own).
func TestStrippedTopDirectoryIsQuoted(t *testing.T) {
	const top = "x\x1b[31mRED\x1b[0m\nworkshop: image imported OK\r"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{top + "/", top + "/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, t.TempDir(), "esc.tar", buf.Bytes())
	var narration bytes.Buffer
	if _, err := OpenStore(t.TempDir()).Import(bg, sys.New(&narration, sys.Options{}), f, "esc"); err != nil {
		t.Fatalf("Import = %v", err)
	}
	out := narration.String()
	if strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `stripping "x\x1b[31mRED\x1b[0m\nworkshop: image imported OK\r"/`) {
		t.Errorf("the stripped directory's name reached the narration raw, or unquoted:\n%q", out)
	}
}

func TestStoreImportTheWalkthroughsTar(t *testing.T) {
	root := makeTree(t)
	dir := t.TempDir()
	s := OpenStore(t.TempDir())
	packed, err := s.Pack(bg, sys.Discard(), root, "packed")
	if err != nil {
		t.Fatal(err)
	}
	// tar cvf dockercontainer.tar my-new-root: every entry under my-new-root/.
	f := writeFile(t, dir, "dockercontainer.tar", packBytes(t, root, PackOptions{Prefix: "my-new-root"}))
	var narration bytes.Buffer
	img, err := s.Import(bg, sys.New(&narration, sys.Options{}), f, "walkthrough")
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	if !strings.Contains(narration.String(), "stripping my-new-root/") {
		t.Errorf("Import said nothing about stripping my-new-root/:\n%s", narration.String())
	}
	if got, want := describe(t, img.Rootfs), describe(t, root); got != want {
		t.Errorf("imported rootfs differs from the root:\n%s\nwant\n%s", got, want)
	}
	if img.ID != packed.ID {
		t.Errorf("import of the walkthrough's tar has id %s, pack of the same root %s: want the same image", img.ShortID(), packed.ShortID())
	}
}

// GNU tar's --label writes the label first, as an entry of type V named
// after it: the walkthrough's tar with a label still imports, stripped of
// my-new-root/, and the label becomes no file.
func TestStoreImportAGNULabelledArchive(t *testing.T) {
	label := entry{typ: typeGNUVolumeLabel, name: "week 1 lab"}
	archive := buildTar(t, label, dir("my-new-root/"), dir("my-new-root/bin/"), file("my-new-root/bin/sh", "#!sh").withMode(0o755))
	s := OpenStore(t.TempDir())
	img, err := s.Import(bg, sys.Discard(), writeFile(t, t.TempDir(), "labelled.tar", archive), "labelled")
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	wantFile(t, filepath.Join(img.Rootfs, "bin", "sh"), "#!sh")
	if _, err := os.Lstat(filepath.Join(img.Rootfs, "week 1 lab")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the label became a file of the root: %v", err)
	}
	if names := tarNames(t, mustRead(t, img.Tar)); strings.Contains(strings.Join(names, " "), "week") {
		t.Errorf("the stored tar keeps the label: %q", names)
	}
}

func TestStoreImportDockerExportStyle(t *testing.T) {
	// docker export: no ./ prefix, no root entry, gzipped here.
	archive := gzipped(t, buildTar(t, dir("bin/"), file("bin/sh", "#!sh").withMode(0o755), dir("etc/"), file("etc/hostname", "x"), symlink("var/run", "/run")))
	s := OpenStore(t.TempDir())
	img, err := s.Import(bg, sys.Discard(), writeFile(t, t.TempDir(), "export.tar.gz", archive), "exported:v2")
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	wantFile(t, filepath.Join(img.Rootfs, "bin", "sh"), "#!sh")
	names := tarNames(t, mustRead(t, img.Tar))
	if names[0] != "./bin/" || names[1] != "./bin/sh" {
		t.Errorf("stored names = %q, want them relative to the root (./bin/…)", names)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoreImportFailuresLeaveNothing(t *testing.T) {
	s := OpenStore(t.TempDir())
	good := buildTar(t, dir("bin/"), file("bin/sh", strings.Repeat("x", 5000)))
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		// Cut inside bin/sh's data: the first pass, which reads no data,
		// finds it on its way to the next header.
		{"truncated", good[:1500], `truncated, in or right after entry "bin/sh": it ends too early, inside that entry's data or the header after it`},
		{"cut at an entry's end", good[:512+512+5120], `truncated, after entry "bin/sh"`},
		{"not a tar", []byte("just text\n"), "it is no archive: it has 10 bytes"},
		{"empty", nil, "holds no entries"},
		{"hostile name", buildTar(t, file("../../etc/evil", "x")), `entry "../../etc/evil"`},
		{"hostile link", buildTar(t, symlink("up", "/"), hardlink("x", "up/etc/passwd")), `entry "x"`},
	} {
		_, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, tc.name, tc.data), "bad")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Import(%s) = %v, want an error with %q", tc.name, err, tc.want)
		}
		if got := strings.Join(storeDirs(t, s), " "); got != "lock" {
			t.Errorf("after Import(%s) fails, the store holds %q, want nothing but its lock", tc.name, got)
		}
	}
	_, err := s.Import(bg, sys.Discard(), filepath.Join(tmp, "missing.tar"), "bad")
	if err == nil || !strings.Contains(err.Error(), "no such file") || exit.Status(err) != 125 {
		t.Errorf("Import(missing file) = %v, want a sentence and 125", err)
	}
}

func TestStoreExportImportRoundTrip(t *testing.T) {
	root := makeTree(t)
	s := OpenStore(t.TempDir())
	img, err := s.Pack(bg, sys.Discard(), root, "demo")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"demo.tar", "demo.tar.gz"} {
		out := filepath.Join(dir, name)
		if _, err := s.Export(bg, sys.Discard(), "demo:latest", out); err != nil {
			t.Fatalf("Export(%s) = %v", name, err)
		}
		b := mustRead(t, out)
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s is not gzipped: %v", name, err)
			}
			b, _ = io.ReadAll(zr)
		}
		if !bytes.Equal(b, mustRead(t, img.Tar)) {
			t.Errorf("Export(%s) differs from the stored tar", name)
		}
		back, err := s.Import(bg, sys.Discard(), out, "back:"+strings.ReplaceAll(name, ".", "-"))
		if err != nil || back.ID != img.ID {
			t.Errorf("Import(Export(%s)) = %v, %v; want the same id %s", name, back.ID, err, img.ShortID())
		}
	}
	var buf bytes.Buffer
	if _, err := s.ExportTo(context.Background(), sys.Discard(), "demo", &buf, false); err != nil || !bytes.Equal(buf.Bytes(), mustRead(t, img.Tar)) {
		t.Errorf("ExportTo = %v, or different bytes", err)
	}
	// Ctrl-C stops an export to standard output too, and says what is left.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var ie *InterruptedError
	if _, err := s.ExportTo(cancelled, sys.Discard(), "demo", io.Discard, false); !errors.As(err, &ie) || !strings.Contains(ie.What, "incomplete tar") {
		t.Errorf("ExportTo after Ctrl-C = %v; want an InterruptedError about the incomplete tar", err)
	}
	imported, err := s.ImportFrom(bg, sys.Discard(), bytes.NewReader(buf.Bytes()), "piped")
	if err != nil || imported.ID != img.ID {
		t.Errorf("ImportFrom = %v, %v; want %s", imported.ID, err, img.ShortID())
	}
}

// Ctrl-C during an export stops the copy and removes the half-written file.
func TestStoreExportInterrupted(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(bg)
	cancel(errors.New("interrupted by SIGINT"))
	out := filepath.Join(t.TempDir(), "demo.tar.gz")
	var narration bytes.Buffer
	_, err := s.Export(ctx, sys.New(&narration, sys.Options{}), "demo", out)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "interrupted by SIGINT") || !strings.Contains(ie.What, out) {
		t.Errorf("Export with a cancelled ctx = %v; want an *InterruptedError naming %s and the signal", err, out)
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the half-written %s is still there (%v)", out, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("the export left %v beside %s", entries, out)
	}
	if want := fmt.Sprintf(`unlinkat(AT_FDCWD, "%s/.demo.tar.gz.export-`, filepath.Dir(out)); !strings.Contains(narration.String(), want) {
		t.Errorf("the removal was not narrated as %s…:\n%s", want, narration.String())
	}
}

// A failed export removes only what it wrote: a file that was there before
// stays as it was (a failed write used to unlink it: /dev/full, once), and
// anything but a regular file is refused before the image is read.
func TestStoreExportLeavesWhatWasThere(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{"/dev/full", "/dev/full exists and is a character device, not a regular file"},
		{fifo, "is a named pipe (a FIFO), not a regular file"},
		{dir, "is a directory"},
	} {
		before, _ := os.Lstat(tc.file)
		_, err := s.Export(bg, sys.Discard(), "demo", tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Export(%s) = %v; want an error saying %q", tc.file, err, tc.want)
		}
		if after, err := os.Lstat(tc.file); err != nil || after.Mode() != before.Mode() {
			t.Errorf("Export(%s) changed it: %v, %v", tc.file, after, err)
		}
	}
	// A regular file that was there, and a failure after the copy began
	// (a cancelled context): the file is untouched.
	old := filepath.Join(dir, "old.tar")
	if err := os.WriteFile(old, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(bg)
	cancel(errors.New("interrupted by SIGINT"))
	if _, err := s.Export(ctx, sys.Discard(), "demo", old); err == nil {
		t.Fatal("Export with a cancelled context succeeded")
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != "keep me" {
		t.Errorf("a failed Export over %s changed it: %q, %v", old, b, err)
	}
	// The same file, exported for real: replaced by the whole tar, through a
	// symlink too.
	link := filepath.Join(dir, "link.tar")
	if err := os.Symlink("old.tar", link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(bg, sys.Discard(), "demo", link); err != nil {
		t.Fatalf("Export(%s) = %v", link, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("Export replaced the symlink %s itself: %v, %v", link, fi, err)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) == "keep me" || len(b) < 1024 {
		t.Errorf("Export through %s did not write the tar to %s: %d bytes, %v", link, old, len(b), err)
	}
	// A symlink to nothing yet (through another): the tar is made where it
	// leads, as tar -cf would make it, and the links stay.
	dangling, hop, made := filepath.Join(dir, "dangling.tar"), filepath.Join(dir, "hop.tar"), filepath.Join(dir, "made.tar")
	if err := os.Symlink("hop.tar", dangling); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(made, hop); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(bg, sys.Discard(), "demo", dangling); err != nil {
		t.Fatalf("Export(%s) = %v", dangling, err)
	}
	for _, l := range []string{dangling, hop} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("Export replaced the symlink %s itself: %v, %v", l, fi, err)
		}
	}
	if b, err := os.ReadFile(made); err != nil || len(b) < 1024 {
		t.Errorf("Export through %s did not write the tar to %s: %d bytes, %v", dangling, made, len(b), err)
	}
	// A link whose ../ climbs from a directory reached through a symlink
	// climbs from where that symlink leads, as the kernel (and tar) would.
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/sub", filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../up.tar", filepath.Join(dir, "real", "sub", "up-link.tar")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(bg, sys.Discard(), "demo", filepath.Join(dir, "dirlink", "up-link.tar")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "real", "up.tar")); err != nil {
		t.Errorf("Export through dirlink/up-link.tar -> ../up.tar did not write real/up.tar: %v", err)
	}
	// One that leads into a directory that does not exist says so.
	nowhere := filepath.Join(dir, "nowhere.tar")
	if err := os.Symlink(filepath.Join(dir, "no-such-dir", "x.tar"), nowhere); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(bg, sys.Discard(), "demo", nowhere); err == nil || !strings.Contains(err.Error(), "is a symlink to "+filepath.Join(dir, "no-such-dir", "x.tar")+", whose directory "+filepath.Join(dir, "no-such-dir")+" does not exist") {
		t.Errorf("Export through a link into no directory = %v", err)
	}
}

// Packing a directory that holds the store would pack the image being made
// into itself: refused with a sentence (it failed with "rootfs.tar changed
// while it was packed"). A root inside the state dir, beside the store, is
// fine: step 2's my-new-root is one.
func TestStorePackOfItsOwnParent(t *testing.T) {
	state := t.TempDir()
	s := OpenStore(state)
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "first"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{state, s.Dir(), filepath.Join(state, ".")} {
		_, err := s.Pack(bg, sys.Discard(), dir, "self")
		if err == nil || !strings.Contains(err.Error(), "holds the image store") || exit.Status(err) != exit.ToolFailed {
			t.Errorf("Pack(%s) = %v; want a sentence that it holds the store, and 125", dir, err)
		}
	}
	beside := filepath.Join(state, "my-new-root")
	if err := os.MkdirAll(filepath.Join(beside, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(beside, "bin", "sh"), []byte("#!"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pack(bg, sys.Discard(), beside, "beside"); err != nil {
		t.Errorf("Pack(%s), a root beside the store = %v", beside, err)
	}
}

func TestStoreTagRemoveUnpack(t *testing.T) {
	root := makeTree(t)
	s := OpenStore(t.TempDir())
	img, err := s.Pack(bg, sys.Discard(), root, "demo:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Tag(sys.Discard(), "demo:1", "other:2"); err != nil {
		t.Fatalf("Tag = %v", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Ref.String() != "demo:1" || list[1].Ref.String() != "other:2" || list[1].ID != img.ID {
		t.Fatalf("List = %+v, %v; want demo:1 and other:2, one id", list, err)
	}
	dest := filepath.Join(t.TempDir(), "copy")
	if _, _, err := s.Unpack(bg, sys.Discard(), "other:2", dest, false); err != nil {
		t.Fatalf("Unpack = %v", err)
	}
	if got, want := describe(t, dest), describe(t, root); got != want {
		t.Errorf("unpacked image differs from its root")
	}
	if _, removed, err := s.Remove(sys.Discard(), "demo:1"); err != nil || removed {
		t.Errorf("Remove(demo:1) = %v, removed=%v; want the tag gone, the image kept for other:2", err, removed)
	}
	if _, err := os.Stat(img.Rootfs); err != nil {
		t.Errorf("the image's rootfs went with a tag that was not its last: %v", err)
	}
	var out bytes.Buffer
	if _, removed, err := s.Remove(sys.New(&out, sys.Options{}), "other:2"); err != nil || !removed {
		t.Errorf("Remove(other:2) = %v, removed=%v; want the image gone with its last tag", err, removed)
	}
	if _, err := os.Stat(filepath.Dir(img.Rootfs)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the image's directory is still there: %v", err)
	}
	// The image's files go as rm -rf would, narrated, its directory last.
	if want := `unlinkat(AT_FDCWD, "` + filepath.Dir(img.Rootfs) + `", AT_REMOVEDIR) = 0`; !strings.HasSuffix(strings.TrimSpace(out.String()), want) {
		t.Errorf("removing the image narrated:\n%s\nwant it to end with %s", out.String(), want)
	}
	if _, _, err := s.Remove(sys.Discard(), "other:2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove twice = %v, want ErrNotFound", err)
	}
}

func TestStoreRemovesWhatAKilledAdditionLeft(t *testing.T) {
	s := OpenStore(t.TempDir())
	stale := filepath.Join(s.Dir(), newPrefix+"killed")
	mustDo(t, os.MkdirAll(filepath.Join(stale, "rootfs", "bin"), 0o755))
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stale %s survived the next addition", stale)
	}
}

// Many additions at once, from goroutines (each takes the lock through its
// own open file, as separate processes do): every image is there, the
// index names them all, nothing half made is left.
func TestStoreConcurrentAdditions(t *testing.T) {
	s := OpenStore(t.TempDir())
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			archive := buildTar(t, dir("etc/"), file("etc/which", fmt.Sprint(i)))
			p := writeFile(t, t.TempDir(), "a.tar", archive)
			_, errs[i] = s.Import(bg, sys.Discard(), p, fmt.Sprintf("img:%d", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Import %d = %v", i, err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 6 {
		t.Fatalf("List = %d images, %v; want 6", len(list), err)
	}
	for _, img := range list {
		want := strings.TrimPrefix(img.Ref.String(), "img:")
		if b, _ := os.ReadFile(filepath.Join(img.Rootfs, "etc", "which")); string(b) != want {
			t.Errorf("%s holds %q, want %q", img.Ref, b, want)
		}
	}
	for _, name := range storeDirs(t, s) {
		if strings.HasPrefix(name, ".") {
			t.Errorf("left in the store: %s", name)
		}
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{
		"demo": "demo:latest", "demo:1": "demo:1", "my-app/web:v1.2": "my-app/web:v1.2", "base": "base:latest",
	} {
		if r, err := ParseRef(in); err != nil || r.String() != want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "Demo", "demo:", "demo:-x", "a b", "../x", "demo:1:2"} {
		if r, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) = %v, want an error", bad, r)
		}
	}
}

// The built-in base image: made once from the host's programs, by two runs
// at once without harm, and found by Find as soon as it is asked for.
func TestEnsureBase(t *testing.T) {
	s := OpenStore(t.TempDir())
	var wg sync.WaitGroup
	imgs := make([]Image, 2)
	errs := make([]error, 2)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = s.EnsureBase(context.Background(), sys.Discard())
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("EnsureBase = %v, %v", errs[0], errs[1])
	}
	if imgs[0].ID != imgs[1].ID || imgs[0].Ref.String() != BaseRef {
		t.Errorf("two EnsureBase at once gave %s and %s (%s), want one image base:latest", imgs[0].ShortID(), imgs[1].ShortID(), imgs[0].Ref)
	}
	if got := strings.Join(storeDirs(t, s), " "); got != "ID index.json lock" {
		t.Errorf("store holds %q, want one image", got)
	}
	// /bin/sh resolves inside the image (bin may be a symlink to usr/bin).
	for _, prog := range []string{"bin/sh", "bin/ls", "bin/cat", "etc/passwd"} {
		p, err := resolveIn(imgs[0].Rootfs, prog)
		if err != nil {
			t.Errorf("the base image has no %s: %v", prog, err)
			continue
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s in the base image is not a file: %v", prog, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(imgs[0].Rootfs, "tmp")); err != nil || fi.Mode().Perm()|os.ModeSticky&fi.Mode() != 0o777|os.ModeSticky {
		t.Errorf("base image /tmp = %v, %v; want drwxrwxrwt", fi.Mode(), err)
	}
	found, err := s.Find(context.Background(), sys.Discard(), "base")
	if err != nil || found.ID != imgs[0].ID {
		t.Errorf("Find(base) = %v, %v", found.ID, err)
	}
}

// resolveIn follows symlinks of name inside root as the container would.
func resolveIn(root, name string) (string, error) {
	p, err := securejoinPath(root, name)
	if err != nil {
		return "", err
	}
	return p, nil
}

// An image a container runs on (step 6 records it) cannot lose its last
// name, and moving a tag away from it does not delete it under the
// container; once the container is gone, it goes.
func TestStoreKeepsImagesInUse(t *testing.T) {
	stateDir := t.TempDir()
	s := OpenStore(stateDir)
	img, err := s.Pack(bg, sys.Discard(), makeTree(t), "busy")
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: "0123456789ab", Name: "busy-box", Step: 6, Lower: img.Rootfs}
	if err := state.New(stateDir, run); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Remove(sys.Discard(), "busy")
	if err == nil || !strings.Contains(err.Error(), "in use by container 0123456789ab (busy-box)") || exit.Status(err) != 125 {
		t.Fatalf("Remove of an image in use = %v, want a refusal naming the container", err)
	}
	other := writeFile(t, t.TempDir(), "o.tar", buildTar(t, file("x", "x")))
	if _, err := s.Import(bg, sys.Discard(), other, "busy"); err != nil { // busy:latest now names another image
		t.Fatal(err)
	}
	if _, err := os.Stat(img.Rootfs); err != nil {
		t.Fatalf("the image in use was deleted when its tag moved: %v", err)
	}
	if err := run.Forget(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Tag(sys.Discard(), "busy", "again"); err != nil { // any change collects
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(img.Rootfs)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the untagged image outlived its last container: %v", err)
	}
}

// A name moved to another image says what became of the one it named: gone
// with its last name, or kept, unnamed, while a container runs from it. An
// unnamed image is listed (as <none>) and can be removed by its id once
// unused; an image with several names is not removed by id.
func TestStoreMovedNamesAndUnnamedImages(t *testing.T) {
	stateDir := t.TempDir()
	s := OpenStore(stateDir)
	a, err := s.Pack(bg, sys.Discard(), makeTree(t), "solo:1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Import(bg, sys.Discard(), writeFile(t, t.TempDir(), "b.tar", buildTar(t, file("b", "b"))), "other")
	if err != nil {
		t.Fatal(err)
	}
	// solo:1 was a's only name, and nothing runs from a: it goes.
	if _, moved, err := s.Tag(sys.Discard(), "other", "solo:1"); err != nil || moved.From != a.ID || !moved.Removed || !strings.Contains(moved.Fate(), "removed") {
		t.Errorf("Tag onto solo:1 = %+v, %v; want a's id, removed", moved, err)
	}
	// Again, with a container running from the image the name leaves.
	c, err := s.Pack(bg, sys.Discard(), makeTree(t), "busy:1")
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: "0123456789ab", Name: "busy-box", Step: 6, Lower: c.Rootfs}
	if err := state.New(stateDir, run); err != nil {
		t.Fatal(err)
	}
	_, moved, err := s.Tag(sys.Discard(), "other", "busy:1")
	if err != nil || moved.From != c.ID || moved.Removed || !moved.InUse || !strings.Contains(moved.Fate(), "<none>") {
		t.Errorf("Tag onto busy:1 while a container runs from its image = %+v, %v; want it kept, in use", moved, err)
	}
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, img := range imgs {
		listed = listed || img.ID == c.ID && img.Ref.Name == ""
	}
	if !listed {
		t.Errorf("List does not show the unnamed image in use %s: %+v", c.ShortID(), imgs)
	}
	if _, _, err := s.Remove(sys.Discard(), c.ShortID()); err == nil || !strings.Contains(err.Error(), "in use by container 0123456789ab") {
		t.Errorf("Remove by id of the unnamed image in use = %v, want a refusal", err)
	}
	if err := run.Forget(); err != nil {
		t.Fatal(err)
	}
	if _, removed, err := s.Remove(sys.Discard(), c.ShortID()); err != nil || !removed {
		t.Errorf("Remove by id of the unnamed image, unused now = %v, %v; want it removed", removed, err)
	}
	// b has three names now (other, solo:1, busy:1): not removed by id.
	if _, _, err := s.Remove(sys.Discard(), b.ShortID()); err == nil || !strings.Contains(err.Error(), "has 3 names (busy:1, other:latest, solo:1)") {
		t.Errorf("Remove by id of an image with three names = %v, want a refusal listing them", err)
	}
}

// A name that reads as an id, or longer than Docker's 255, is refused.
func TestParseRefRefusesIDsAndLongNames(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"0b57c9b8d913", "12 or 64 hex digits are how an image's id is written"},
		{strings.Repeat("0123456789abcdef", 4) + ":1", "12 or 64 hex digits"},
		{strings.Repeat("a", 256), "a name has at most 255 characters"},
		// A long tag, or a long bad name: not said whole.
		{"a:" + strings.Repeat("b", 300), `"a:bbb`},
		{"a:" + strings.Repeat("b", 300), "(a name of 302 bytes) has a tag of 300 characters: a tag has at most 128"},
		{"A" + strings.Repeat("b", 199), "(a name of 200 bytes) is not an image name: names are lower-case; use lower-case letters"},
	} {
		if _, err := ParseRef(tc.ref); err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 300 {
			t.Errorf("ParseRef(%.40q) = %v, want an error with %q, of at most 300 bytes", tc.ref, err, tc.want)
		}
	}
	if _, err := ParseRef(strings.Repeat("a", 255)); err != nil {
		t.Errorf("ParseRef of a 255-character name = %v", err)
	}
}

// A file of /proc says it has 0 bytes and has more: the refusal says so,
// not "changed while it was packed (0 bytes, then 0)".
func TestCopyFileOfProc(t *testing.T) {
	tw := tar.NewWriter(io.Discard)
	if err := tw.WriteHeader(&tar.Header{Name: "status", Mode: 0o444, Size: 0, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	pinned, err := os.OpenFile("/proc/self/status", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	err = copyFile(tw, pinned, at{-1, ""}, "/proc/self/status", 0)
	if err == nil || !strings.Contains(err.Error(), "/proc/self/status says it has 0 bytes, and has more") {
		t.Errorf("copyFile(/proc/self/status) = %v", err)
	}
}

// Where no file can be made beside the destination (/proc), the refusal
// names the directory, not the temporary name workshop tried there.
func TestUnpackAndExportWhereNothingCanBeMade(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo:1"); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Unpack(bg, sys.Discard(), "demo:1", "/proc/sys/x", false)
	if err == nil || !strings.Contains(err.Error(), "cannot make a directory in /proc/sys, beside x") || strings.Contains(err.Error(), ".unpack-") {
		t.Errorf("Unpack into /proc/sys/x = %v", err)
	}
	_, err = s.Export(bg, sys.Discard(), "demo:1", "/proc/version")
	if err == nil || !strings.Contains(err.Error(), "cannot make a file in /proc") || strings.Contains(err.Error(), ".export-") {
		t.Errorf("Export to /proc/version = %v", err)
	}
}

// What an addition killed halfway left (a .new-* directory) is removed by
// the next command that changes the store, and said so.
func TestStaleAdditionRemovedAndSaid(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo:1"); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(s.Dir(), newPrefix+"0123456789ab")
	if err := os.MkdirAll(filepath.Join(stale, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, _, err := s.Tag(sys.New(&out, sys.Options{}), "demo:1", "demo:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there after an exclusive lock", stale)
	}
	if want := `unlinkat(AT_FDCWD, "` + stale + `", AT_REMOVEDIR) = 0`; !strings.Contains(out.String(), "killed halfway") || !strings.Contains(out.String(), want) {
		t.Errorf("the removal of %s was not narrated:\n%s", stale, out.String())
	}
}

// Where the store's filesystem makes no nameless file (no O_TMPFILE), a
// stream is saved under the lock in a named spool, and that spool goes
// with the import.
func TestImportFromWithoutTmpfile(t *testing.T) {
	saved := openNameless
	t.Cleanup(func() { openNameless = saved })
	tried := false
	openNameless = func(string) (int, error) { tried = true; return -1, unix.EOPNOTSUPP }
	s := OpenStore(t.TempDir())
	img, err := s.ImportFrom(bg, sys.Discard(), bytes.NewReader(buildTar(t, dir("etc/"), file("etc/motd", "hi"))), "piped")
	if err != nil || !tried {
		t.Fatalf("ImportFrom without O_TMPFILE = %v (nameless file tried: %v)", err, tried)
	}
	wantFile(t, filepath.Join(img.Rootfs, "etc", "motd"), "hi")
	if got := storeDirs(t, s); !slices.Equal(got, []string{"ID", IndexName, LockName}) {
		t.Errorf("the store holds %q after the import, want the image, its index and its lock", got)
	}
}

// An import whose index cannot be written (a full disk; here, a directory
// where its temporary file goes) takes back the image it had renamed into
// place: no image is left that no name points to.
func TestImportTakesBackAnImageItCouldNotName(t *testing.T) {
	s := OpenStore(t.TempDir())
	if err := os.MkdirAll(filepath.Join(s.Dir(), IndexName+".tmp", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := s.Import(bg, sys.Discard(), writeFile(t, t.TempDir(), "a.tar", buildTar(t, file("a", "a"))), "a:1")
	if err == nil {
		t.Fatal("Import succeeded without its index")
	}
	if got := storeDirs(t, s); slices.Contains(got, "ID") {
		t.Errorf("the store holds %q after the failed import, want no image", got)
	}
}

// The base image is the same whatever the umask of whoever builds it: its
// root 0755, its files as written. Under umask 077 its / was 0700 and its
// /etc/passwd 0600, so that only root could use them, and its id differed.
func TestBaseImageIgnoresTheUmask(t *testing.T) {
	root := func(mask int) string {
		old := syscall.Umask(mask)
		defer syscall.Umask(old)
		dir := filepath.Join(t.TempDir(), "root")
		if err := makeBaseRoot(sys.Discard(), dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	strict, usual := root(0o077), root(0o022)
	for _, p := range []string{".", "etc/passwd"} {
		a, err1 := os.Stat(filepath.Join(strict, p))
		b, err2 := os.Stat(filepath.Join(usual, p))
		if err1 != nil || err2 != nil || a.Mode() != b.Mode() {
			t.Errorf("%s: mode %v under umask 077, %v under 022 (%v, %v); want the same", p, a.Mode(), b.Mode(), err1, err2)
		}
	}
	// Modes, owners and contents; not the times of what was made now, in
	// two builds that may straddle a second.
	made := regexp.MustCompile(`mtime=\d+`)
	if got, want := made.ReplaceAllString(describe(t, strict), ""), made.ReplaceAllString(describe(t, usual), ""); got != want {
		t.Errorf("the base root differs with the umask:\n%s\nwant\n%s", got, want)
	}
}

// An image a killed run's record names is in use until clean undoes that
// run (its overlay may still be mounted on it): image rm says so, and not
// that the run ended with its layer kept.
func TestRemoveAnImageAKilledRunUses(t *testing.T) {
	stateDir := t.TempDir()
	s := OpenStore(stateDir)
	img, err := s.Pack(bg, sys.Discard(), makeTree(t), "held:1")
	if err != nil {
		t.Fatal(err)
	}
	run := &state.Run{ID: "0123456789ab", Name: "crashed", Step: 6, Lower: img.Rootfs, Pid: 4242, Mounts: []string{"/somewhere/rootfs"}}
	if err := state.New(stateDir, run); err != nil {
		t.Fatal(err)
	}
	run.WorkshopPid = 1 << 22 // killed
	run.LetGo()
	if err := run.Save(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Remove(sys.Discard(), "held:1"); err == nil || !strings.Contains(err.Error(), "whose workshop was killed") {
		t.Errorf("Remove of an image a killed run uses = %v, want a refusal saying its workshop was killed", err)
	}
}

// Holds resolves the symlinks of a path's existing part: a directory not
// made yet under a symlink into the store is in the store.
func TestHoldsThroughASymlinkToAPathNotMadeYet(t *testing.T) {
	tmp := t.TempDir()
	store := filepath.Join(tmp, "state", "images")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(store, filepath.Join(tmp, "lnk")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir, path string
		want      bool
	}{
		{store, filepath.Join(tmp, "lnk", "evil"), true},
		{store, filepath.Join(tmp, "lnk", "a", "b"), true},
		{store, filepath.Join(tmp, "lnk"), true},
		{store, filepath.Join(tmp, "lnk", ".."), false}, // lexically tmp, as the steps read it
		{store, filepath.Join(tmp, "other", "x"), false},
		{filepath.Join(tmp, "lnk"), store, true},
	} {
		if got := Holds(c.dir, c.path); got != c.want {
			t.Errorf("Holds(%s, %s) = %v, want %v", c.dir, c.path, got, c.want)
		}
	}
}
