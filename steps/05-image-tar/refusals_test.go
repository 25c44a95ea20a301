package imagetar

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Each refusal of an import names the entry as the student's archive does
// (not as the store rewrote it), says why in workshop's words (not Go's
// tar package's), and leaves the store as it was.
func TestImportRefusalsNameTheArchivesEntry(t *testing.T) {
	weird := entry{typ: '7', name: "weird", body: "12345", mode: 0o644}
	corruptAtEnd := gzippedStored(t, buildTar(t, file("a", strings.Repeat("x", 3000)), file("b", "y")))
	corruptAtEnd[len(corruptAtEnd)/2] ^= 0xff
	s := OpenStore(t.TempDir())
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		// A type that carries data: refused as itself, not as the entry after it.
		{"unknown type with data", buildTar(t, file("first", "1"), weird, file("after", "2")), `entry "weird": its type '7' is not one a root filesystem holds`},
		{"unknown type with data, last", buildTar(t, file("first", "1"), weird), `entry "weird": its type '7'`},
		{"a file in place of the root", buildTar(t, file("a", "x"), file(".", "x")), `entry ".": a non-directory cannot replace the root itself`},
		// Names as the archive has them, before the top directory is stripped.
		{"hardlink to a later entry, under a top directory", buildTar(t, dir("myroot/"), dir("myroot/etc/"), hardlink("myroot/etc/h", "myroot/etc/later"), file("myroot/etc/later", "x")),
			`entry "myroot/etc/h": it is a hardlink to "myroot/etc/later", which is not in the archive before it`},
		{"hardlink to a later entry", buildTar(t, hardlink("h", "later"), file("later", "x")), `entry "h": it is a hardlink to "later"`},
		// Stripping box/ must not move a target that is not under it there.
		{"hardlink outside the stripped top directory", buildTar(t, dir("box/"), dir("box/etc/"), file("box/etc/shadow", "SECRET").withMode(0o600), hardlink("box/pub", "etc/shadow")),
			`entry "box/pub": it is a hardlink to "etc/shadow", which is not in the archive: every entry sits under box/`},
		{"hardlink to itself", buildTar(t, file("f", "x"), hardlink("f", "f")), `entry "f": it is a hardlink to itself`},
		// The kernel keeps 32 bits of a uid, and -1 means "no change".
		{"uid past 32 bits", buildTar(t, file("f", "x").withOwner(1<<32, 0)), `entry "f": its owner's uid 4294967296 is out of range (0 to 4294967294)`},
		{"gid of -1", buildTar(t, file("f", "x").withOwner(0, -1)), `entry "f": its owner's gid -1 is out of range`},
		// The temporary root in which it failed is gone: not named.
		{"symlink loop", buildTar(t, symlink("a", "b"), symlink("b", "a"), file("a/x", "x")), `entry "a/x": resolve its directory a inside the root: too many levels of symbolic links`},
		{"gzip damaged, found at its end", corruptAtEnd, "the archive is corrupt, found at its end"},
		// A name of kilobytes is cut in the middle, not printed whole.
		{"a name longer than a path", buildTar(t, file(strings.Repeat(strings.Repeat("d", 200)+"/", 40)+"f", "x")),
			`"…"` + strings.Repeat("d", 58) + `/f" (a name of 8041 bytes): its directory's path, inside the root's, is`},
		// One part longer than a name can be (NAME_MAX, 255 bytes).
		{"a name part longer than a name", buildTar(t, file("bin/x", "x"), file(strings.Repeat("a", 300)+"/f", "x")),
			`a part of its directory's path, "` + strings.Repeat("a", 60) + `"…"` + strings.Repeat("a", 60) + `" (a name of 300 bytes), is 300 bytes, longer than a name can be (255)`},
		// A symlink whose target holds a name too long: the length is
		// the symlink's, not the entry's own short path's.
		{"a symlink to a name too long", buildTar(t, symlink("s", "/"+strings.Repeat("a", 300)), file("s/q", "x")),
			`entry "s/q": its directory's path goes through a symlink an earlier entry made, whose target is too long a path or holds too long a name`},
		// Its own name too, not said as the fstatat's "file name too long".
		{"a last name longer than a name", buildTar(t, file("bin/"+strings.Repeat("b", 300), "x")),
			`entry "bin/` + strings.Repeat("b", 56) + `"…"` + strings.Repeat("b", 60) + `" (a name of 304 bytes): its own name, "` + strings.Repeat("b", 60) + `"…"` + strings.Repeat("b", 60) + `" (a name of 300 bytes), is 300 bytes, longer than a name can be (255)`},
		// Base-256 device numbers past the kernel's: cut to 32 bits,
		// 4294967304:0 would have made 8:0, a disk.
		{"a device number past the kernel's", buildTar(t, chardev("dev/x", 1<<32+8, 0)), `entry "dev/x": its device number 4294967304:0 is none Linux has (majors 0 to 4095, minors 0 to 1048575)`},
		{"a negative device number", buildTar(t, chardev("dev/x", 1, -1)), `entry "dev/x": its device number 1:-1 is none Linux has`},
		// The name's escape bytes reach no message raw, nor its whole
		// length, nor the temporary root's path, whichever call fails.
		{"an escape sequence in a name too long to make", buildTar(t, file("\x1b[2J\x1b[31m"+strings.Repeat("L", 300), "x")), `entry "\x1b[2J\x1b[31mLLL`},
		{"an escape sequence in a directory too long to make", buildTar(t, file("a\x1b[31mb/"+strings.Repeat("L", 300)+"/x", "x")), `a part of its directory's path, "LLL`},
	} {
		_, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, "archive.tar", tc.data), "bad")
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\r") {
			t.Errorf("%s: Import = %q: a raw control byte of the archive's", tc.name, err)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 600 {
			t.Errorf("%s: Import = %v\nwant an error with %q, in at most 600 bytes", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "archive/tar") || strings.Contains(err.Error(), ".new-") || strings.Contains(err.Error(), ".unpack-")) {
			t.Errorf("%s: Import = %v: Go's words or a temporary path, not workshop's sentence", tc.name, err)
		}
		if got := strings.Join(storeDirs(t, s), " "); got != "lock" {
			t.Errorf("%s: after Import fails, the store holds %q, want nothing but its lock", tc.name, got)
		}
	}
	// With the same top directory, the target under it is linked.
	img, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, "ok.tar", buildTar(t, dir("box/"), dir("box/etc/"), file("box/etc/shadow", "SECRET"), hardlink("box/pub", "box/etc/shadow"))), "good")
	if err != nil {
		t.Fatalf("Import of a hardlink to box/etc/shadow under box/ = %v", err)
	}
	var a, b unix.Stat_t
	mustDo(t, unix.Lstat(filepath.Join(img.Rootfs, "pub"), &a))
	mustDo(t, unix.Lstat(filepath.Join(img.Rootfs, "etc", "shadow"), &b))
	if a.Ino != b.Ino {
		t.Errorf("pub and etc/shadow are not one inode")
	}
}

// gzippedStored is b gzipped without compression, so that a byte flipped in
// its middle damages the data, which only the checksum at the end finds.
func gzippedStored(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	mustDo(t, err)
	gw.Write(b)
	mustDo(t, gw.Close())
	return buf.Bytes()
}

// Times outside what a 64-bit count of nanoseconds holds (1678 to 2262)
// are not wrapped into other dates; the filesystem clamps what it cannot
// hold (ext4: 2446), as it would for tar.
func TestUnpackFarTimes(t *testing.T) {
	sc := newScene(t)
	far := time.Date(3000, 1, 2, 3, 4, 5, 0, time.UTC)
	past := time.Date(1500, 1, 2, 0, 0, 0, 0, time.UTC)
	_, err := unpackBytes(sc, buildTar(t, file("future", "x").withTime(far), file("past", "x").withTime(past)), UnpackOptions{})
	sc.check(t, err)
	if err != nil {
		t.Fatal(err)
	}
	// The date itself, or the filesystem's bound on the same side (ext4:
	// 1901-12-13 and 2446-05-10); a wrapped date is on neither.
	lowest, highest := time.Date(1902, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2446, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		want time.Time
		ok   func(time.Time) bool
	}{
		{"future", far, func(got time.Time) bool { return got.Equal(far) || got.After(highest) && got.Before(far) }},
		{"past", past, func(got time.Time) bool { return got.Equal(past) || got.Before(lowest) && got.After(past) }},
	} {
		fi, err := os.Lstat(filepath.Join(sc.dest, tc.name))
		mustDo(t, err)
		if got := fi.ModTime(); !tc.ok(got) {
			t.Errorf("%s: mtime %v, want %v or the filesystem's bound on that side", tc.name, got, tc.want)
		}
	}
}

// The directories an archive does not list are 0755 whatever the umask of
// the shell that started workshop, and the umask is put back after.
func TestUnpackImpliedDirectoriesIgnoreTheUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	sc := newScene(t)
	_, err := unpackBytes(sc, buildTar(t, file("usr/lib/x", "x")), UnpackOptions{})
	sc.check(t, err)
	for _, d := range []string{"usr", "usr/lib"} {
		fi, err := os.Stat(filepath.Join(sc.dest, d))
		mustDo(t, err)
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s is %v under umask 077, want 0755", d, fi.Mode().Perm())
		}
	}
	if got := syscall.Umask(0o077); got != 0o077 {
		t.Errorf("the umask after an unpack is %o, want it put back (077)", got)
	}
}

// An unpack that fails removes the directories it made for its
// destination, as well as the half-unpacked root.
func TestUnpackFailureRemovesTheParentsItMade(t *testing.T) {
	base := t.TempDir()
	dest := filepath.Join(base, "newp", "a", "b", "dest")
	_, err := Unpack(bg, sys.Discard(), bytes.NewReader(buildTar(t, file("../evil", "x"))), dest, UnpackOptions{})
	if err == nil {
		t.Fatal("Unpack of ../evil succeeded")
	}
	if _, err := os.Lstat(filepath.Join(base, "newp")); !os.IsNotExist(err) {
		t.Errorf("a failed unpack to %s left %s", dest, filepath.Join(base, "newp"))
	}
	// A parent that was there before stays.
	mustDo(t, os.Mkdir(filepath.Join(base, "there"), 0o755))
	_, err = Unpack(bg, sys.Discard(), bytes.NewReader(buildTar(t, file("../evil", "x"))), filepath.Join(base, "there", "x", "dest"), UnpackOptions{})
	if err == nil {
		t.Fatal("Unpack of ../evil succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(base, "there"))
	if _, err := os.Stat(filepath.Join(base, "there")); err != nil || len(entries) != 0 {
		t.Errorf("after a failed unpack, %s is gone or holds %v; want it there, empty", filepath.Join(base, "there"), entries)
	}
}

// A FIFO (bash's <(…), /dev/stdin on a pipe) can be read only once; the
// import, which reads twice, saves it first as it does standard input.
func TestImportFromAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "in.tar")
	mustDo(t, unix.Mkfifo(fifo, 0o600))
	archive := buildTar(t, dir("bin/"), file("bin/sh", "#!sh"))
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.Write(archive)
		f.Close()
	}()
	s := OpenStore(t.TempDir())
	img, err := s.Import(bg, sys.Discard(), fifo, "piped")
	if err != nil {
		t.Fatalf("Import of a FIFO = %v", err)
	}
	wantFile(t, filepath.Join(img.Rootfs, "bin", "sh"), "#!sh")
	if got := strings.Join(storeDirs(t, s), " "); strings.Contains(got, newPrefix) {
		t.Errorf("the store holds %q after an import of a FIFO: its spool was left", got)
	}
}

// A device or a directory given to import is refused in one sentence: a
// device would be read whole into the store (/dev/zero never ends), and a
// directory is pack's to take.
func TestImportRefusesDevicesAndDirectories(t *testing.T) {
	s := OpenStore(t.TempDir())
	dir := t.TempDir()
	for _, tc := range []struct{ file, want string }{
		{"/dev/zero", "it is a device, not an archive"},
		{dir, "it is a directory; 'workshop image pack"},
	} {
		_, err := s.Import(bg, sys.Discard(), tc.file, "bad")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Import(%s) = %v, want an error with %q", tc.file, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(s.Dir()); len(entries) > 0 {
		t.Errorf("after the refusals the store holds %v", entries)
	}
}

// Small mistakes, each said for what it is.
func TestStoreSaysWhatIsWrong(t *testing.T) {
	s := OpenStore(t.TempDir())
	tmp := t.TempDir()
	if _, err := s.Pack(bg, sys.Discard(), filepath.Join(tmp, "nonexistent"), "x"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Pack of a missing directory = %v, want it said to not exist", err)
	}
	if _, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, "a.tar", buildTar(t, dir("bin/"), file("bin/sh", "#!sh"))), "demo:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(bg, sys.Discard(), "demo:2", filepath.Join(tmp, "nodir", "sub", "x.tar")); err == nil || !strings.Contains(err.Error(), "the directory "+filepath.Join(tmp, "nodir", "sub")+" does not exist") {
		t.Errorf("Export into a missing directory = %v, want the directory named", err)
	}
	target := filepath.Join(tmp, "empty")
	mustDo(t, os.Mkdir(target, 0o755))
	link := filepath.Join(tmp, "link")
	mustDo(t, os.Symlink(target, link))
	if _, _, err := s.Unpack(bg, sys.Discard(), "demo:2", link, false); err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("Unpack into a symlink to an empty directory = %v, want it said to be a symlink", err)
	}
	if !gzipWanted(filepath.Join(tmp, "X.TAR.GZ")) || !gzipWanted("x.TGZ") || gzipWanted("x.tar") {
		t.Errorf("gzipWanted does not go by the name whatever its case")
	}
}
