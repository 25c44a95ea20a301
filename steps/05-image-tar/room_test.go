package imagetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bomb writes, gzipped, a tar of one file of size zero bytes: a few
// kilobytes that unpack to size.
func bomb(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bomb.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// An addition to the store never fills its filesystem: a decompression
// bomb, an endless standard input, an archive whose unpacked root would
// not fit, are each stopped with a sentence while a twentieth of the
// filesystem is still free, and leave nothing; what fits is imported.
// Measured on a 16 MiB tmpfs (it used to fill it, then fail with ENOSPC).
func TestAdditionsLeaveRoomOnTheDisk(t *testing.T) {
	testbin.NeedRoot(t) // the tmpfs
	store := smallState(t, "16m")
	free := func() int64 {
		var fs unix.Statfs_t
		if err := unix.Statfs(store, &fs); err != nil {
			t.Fatal(err)
		}
		return int64(fs.Bavail) * fs.Bsize
	}
	s := OpenStore(store)
	n := sys.New(io.Discard, sys.Options{})

	fits := filepath.Join(t.TempDir(), "fits.tar")
	if err := os.WriteFile(fits, buildTar(t, dir("etc/"), file("etc/motd", "hello\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(bg, n, fits, "fits"); err != nil {
		t.Fatalf("a small import on a 16 MiB tmpfs: %v", err)
	}
	before := free() // the small image stays

	unpacked := filepath.Join(t.TempDir(), "unpacked.tar")
	f, err := os.Create(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	const nine = 9 << 20 // its tar fits; the tar and its unpacked root do not
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big", Mode: 0o644, Size: nine}); err != nil {
		t.Fatal(err)
	}
	io.CopyN(tw, bytes.NewReader(make([]byte, nine)), nine)
	tw.Close()
	f.Close()

	for _, c := range []struct {
		name string
		add  func() error
	}{
		{"a gzip bomb", func() error { _, err := s.Import(bg, n, bomb(t, 64<<20), "bomb"); return err }},
		{"an endless standard input", func() error {
			// A tar header of a file of a terabyte, then zeros: an
			// archive, by its first block, that goes on and on.
			var hdr bytes.Buffer
			if err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "endless", Mode: 0o644, Size: 1 << 40}); err != nil {
				t.Fatal(err)
			}
			_, err := s.ImportFrom(bg, n, io.LimitReader(io.MultiReader(&hdr, zeros{}), 64<<20), "endless")
			return err
		}},
		{"a root that would not fit beside its tar", func() error { _, err := s.Import(bg, n, unpacked, "big"); return err }},
	} {
		err := c.add()
		if !errors.Is(err, ErrNoRoom) {
			t.Errorf("%s: %v, want a refusal for want of room", c.name, err)
			continue
		}
		if got := free(); got < before {
			t.Errorf("%s: %d bytes free after, %d before: something is left", c.name, got, before)
		}
	}
	if _, err := s.Resolve("fits"); err != nil {
		t.Errorf("the image that fit is gone: %v", err)
	}
}

// Another writer on the same filesystem (a second import's saved standard
// input, another program) counts: the filesystem is looked at again as an
// addition goes, and it stops while what it keeps free is still free.
func TestRoomSeesOtherWriters(t *testing.T) {
	testbin.NeedRoot(t) // the tmpfs
	fsDir := t.TempDir()
	if err := unix.Mount("tmpfs", fsDir, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(fsDir, unix.MNT_DETACH) })
	r, err := roomIn(fsDir)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else takes 12 of the 16 MiB after the addition began.
	if err := os.WriteFile(filepath.Join(fsDir, "other"), make([]byte, 12<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(fsDir, "addition"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = io.Copy(r.writer(f), io.LimitReader(zeros{}, 8<<20))
	if !errors.Is(err, ErrNoRoom) {
		t.Fatalf("writing 8 MiB where 4 are free: %v, want a refusal for want of room", err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(fsDir, &fs); err != nil {
		t.Fatal(err)
	}
	if free := int64(fs.Bavail) * fs.Bsize; free < r.keep/2 {
		t.Errorf("%d bytes free when it stopped, want at least half of the %d it keeps", free, r.keep)
	}
}

// A write refused while an archive is rewritten (no room, a disk's error)
// is said as it is, not as a header no tar format can hold. The first
// entry's header and byte fit; its padding, which the tar writer writes
// with the next header, does not.
func TestNormalizeSaysWhyItsWriteFailed(t *testing.T) {
	archive := buildTar(t, file("a", "x"), file("b", "y"), file("c", "z"))
	_, err := normalize(bg, bytes.NewReader(archive), &failAfter{left: 513}, "", nil)
	if !errors.Is(err, ErrNoRoom) {
		t.Errorf("normalize into a writer out of room = %v, want ErrNoRoom", err)
	}
}

// failAfter takes left bytes, then refuses with ErrNoRoom.
type failAfter struct{ left int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		return 0, ErrNoRoom
	}
	f.left -= len(p)
	return len(p), nil
}

// `image unpack NAME DIR` leaves room too: an image whose root would not fit
// on DIR's filesystem, beside what workshop leaves free there, is refused
// before anything is written (it used to be unpacked to the filesystem's
// last blocks: 15.5 MiB on a 16 MiB tmpfs); one that fits is unpacked.
func TestUnpackLeavesRoomOnTheDisk(t *testing.T) {
	testbin.NeedRoot(t) // the tmpfs
	s := OpenStore(filepath.Join(t.TempDir(), "state"))
	n := sys.New(io.Discard, sys.Options{})
	archive := func(name string, size int) string {
		p := filepath.Join(t.TempDir(), name+".tar")
		if err := os.WriteFile(p, buildTar(t, dir("etc/"), file("etc/"+name, string(make([]byte, size)))), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		size int
	}{{"small", 1 << 10}, {"big", 31 << 19}} {
		if _, err := s.Import(bg, n, archive(c.name, c.size), c.name); err != nil {
			t.Fatal(err)
		}
	}
	disk := t.TempDir()
	if err := unix.Mount("tmpfs", disk, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(disk, unix.MNT_DETACH) })

	into := filepath.Join(disk, "root")
	_, _, err := s.Unpack(bg, n, "big", into, false)
	if !errors.Is(err, ErrNoRoom) {
		t.Fatalf("unpacking 15.5 MiB onto a 16 MiB tmpfs: %v, want a refusal for want of room", err)
	}
	if _, err := os.Lstat(into); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused unpack made %s (%v)", into, err)
	}
	// DIR may be made, not the directories on its way.
	if _, _, err := s.Unpack(bg, n, "small", filepath.Join(disk, "a", "root"), false); err == nil || !strings.Contains(err.Error(), "the directory "+filepath.Join(disk, "a")+" does not exist: make it first") {
		t.Errorf("unpacking into a directory whose parent is missing: %v, want a refusal", err)
	}
	if _, err := os.Lstat(filepath.Join(disk, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused unpack made %s/a (%v)", disk, err)
	}
	if _, _, err := s.Unpack(bg, n, "small", into, false); err != nil {
		t.Errorf("unpacking 1 KiB onto a 16 MiB tmpfs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(into, "etc", "small")); err != nil {
		t.Errorf("the small image's file is not there: %v", err)
	}
}

// The built-in image made where there is no room for it: said as a lack
// of room, and the store's directory left as it was.
func TestBaseImageWithoutRoom(t *testing.T) {
	testbin.NeedRoot(t) // the tmpfs
	state := smallState(t, "1m")
	s := OpenStore(state)
	_, err := s.EnsureBase(bg, sys.New(io.Discard, sys.Options{}))
	if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "make the base image: not enough room in "+state+" for a copy of this machine's shell") {
		t.Errorf("EnsureBase on a 1 MiB tmpfs = %v, want a lack of room said", err)
	}
	if images, err := s.List(); err != nil || len(images) != 0 {
		t.Errorf("after it, the store lists %v, %v; want nothing", images, err)
	}
}

// smallState is a state dir on a tmpfs of size (mount's size=), unmounted
// when the test ends: a filesystem to fill.
func smallState(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}
