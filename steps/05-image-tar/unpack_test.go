package imagetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// makeTree builds a small root with every kind of file Pack handles.
func makeTree(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "my-new-root")
	for _, d := range []string{"bin", "lib/x86_64", "etc", "tmp", "var"} {
		mustDo(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	mustDo(t, os.WriteFile(filepath.Join(root, "bin", "bash"), []byte("#!not really bash\n"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(root, "lib", "x86_64", "libc.so.6"), bytes.Repeat([]byte("libc"), 5000), 0o644))
	mustDo(t, os.Symlink("libc.so.6", filepath.Join(root, "lib", "x86_64", "libc.so")))
	mustDo(t, os.Symlink("/bin/bash", filepath.Join(root, "bin", "sh")))
	mustDo(t, os.Symlink("/run", filepath.Join(root, "var", "run")))
	mustDo(t, os.Link(filepath.Join(root, "bin", "bash"), filepath.Join(root, "bin", "rbash")))
	mustDo(t, os.WriteFile(filepath.Join(root, "bin", "su"), []byte("su"), 0o755))
	mustDo(t, os.Chmod(filepath.Join(root, "bin", "su"), 0o4755))
	mustDo(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	mustDo(t, unix.Mkfifo(filepath.Join(root, "tmp", "fifo"), 0o600))
	mustDo(t, os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("box\n"), 0o600))
	if os.Geteuid() == 0 {
		mustDo(t, os.Lchown(filepath.Join(root, "etc", "hostname"), 1000, 1001))
	}
	old := time.Unix(1600000000, 0)
	mustDo(t, os.Chtimes(filepath.Join(root, "etc", "hostname"), old, old))
	mustDo(t, os.Chtimes(filepath.Join(root, "etc"), old, old))
	return root
}

// describe lists a tree as "path type mode owner mtime content/target/inode-group".
func describe(t *testing.T, root string) string {
	var lines []string
	inodes := map[uint64]string{}
	err := filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		l := fmt.Sprintf("%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		if fi.Mode()&fs.ModeSymlink == 0 {
			// A tar keeps whole seconds (Pack rounds, as Go's tar does).
			l += fmt.Sprintf(" mtime=%d", fi.ModTime().Round(time.Second).Unix())
		}
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			first, seen := inodes[st.Ino]
			if !seen {
				inodes[st.Ino] = rel
				first = rel
			}
			l += fmt.Sprintf(" %d bytes, inode of %s", len(b), first)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			l += " -> " + target
		}
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func packBytes(t *testing.T, root string, opts PackOptions) []byte {
	var buf bytes.Buffer
	if _, err := Pack(context.Background(), root, &buf, opts); err != nil {
		t.Fatalf("Pack(%s) = %v", root, err)
	}
	return buf.Bytes()
}

func TestPackUnpackRoundTrip(t *testing.T) {
	root := makeTree(t)
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			b := packBytes(t, root, PackOptions{Gzip: gz})
			dest := filepath.Join(t.TempDir(), "container-root")
			st, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(b), dest, UnpackOptions{})
			if err != nil {
				t.Fatalf("Unpack = %v", err)
			}
			if got, want := describe(t, dest), describe(t, root); got != want {
				t.Errorf("unpacked tree differs from the packed one:\n%s\nwant\n%s", got, want)
			}
			if st.Hardlinks != 1 || st.Symlinks != 3 || st.Fifos != 1 || st.Files != 4 || st.Dirs != 7 {
				t.Errorf("Stats = %+v, want 7 dirs, 4 files, 1 hardlink, 3 symlinks, 1 fifo", st)
			}
		})
	}
}

func TestPackNamesAreRelativeToTheRoot(t *testing.T) {
	root := makeTree(t)
	names := tarNames(t, packBytes(t, root, PackOptions{}))
	if names[0] != "./" || !contains(names, "./bin/bash") || !contains(names, "./bin/") {
		t.Errorf("Pack names = %q, want ./, ./bin/, ./bin/bash…", names)
	}
	// The walkthrough's way: every name under my-new-root/.
	names = tarNames(t, packBytes(t, root, PackOptions{Prefix: "my-new-root"}))
	if names[0] != "my-new-root/" || !contains(names, "my-new-root/bin/bash") {
		t.Errorf("Pack with a prefix: names = %q, want my-new-root/, my-new-root/bin/bash…", names)
	}
}

// The root may change under the walk (a container still running in it,
// or anyone who may write there): a directory swapped for a symlink to the
// host between its listing and its visit is packed as that symlink, never
// followed. (A walk by paths packed the host's files under the
// directory's name.)
func TestPackFollowsNoSymlinkSwappedIn(t *testing.T) {
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "secret"), []byte("host's"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(data, "L"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "L", "mine"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "was-a-file"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	swapped := false
	listed = func(dir string) {
		if dir == data && !swapped {
			swapped = true
			if err := os.Rename(filepath.Join(data, "L"), filepath.Join(root, "L.old")); err != nil {
				t.Error(err)
			}
			if err := os.Symlink(victim, filepath.Join(data, "L")); err != nil {
				t.Error(err)
			}
			// And a file for a FIFO, whose open for reading would
			// wait for a writer for ever.
			if err := os.Remove(filepath.Join(data, "was-a-file")); err != nil {
				t.Error(err)
			}
			if err := unix.Mkfifo(filepath.Join(data, "was-a-file"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { listed = nil }()
	var buf bytes.Buffer
	if _, err := Pack(context.Background(), root, &buf, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !swapped {
		t.Fatal("the walk never listed", data)
	}
	types := map[string]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types[h.Name] = h.Typeflag
	}
	if _, ok := types["./data/L/secret"]; ok {
		t.Errorf("the pack holds the host's ./data/L/secret: it followed the symlink swapped in (%v)", types)
	}
	if types["./data/L"] != tar.TypeSymlink {
		t.Errorf("./data/L is packed as type %q, want the symlink it had become (%v)", types["./data/L"], types)
	}
	if types["./data/was-a-file"] != tar.TypeFifo {
		t.Errorf("./data/was-a-file is packed as type %q, want the FIFO it had become", types["./data/was-a-file"])
	}
}

func TestPackIsDeterministic(t *testing.T) {
	root := makeTree(t)
	a, b := packBytes(t, root, PackOptions{}), packBytes(t, root, PackOptions{})
	if !bytes.Equal(a, b) {
		t.Errorf("packing the same tree twice gave different bytes")
	}
}

// The top directory an import strips (TestStoreImportTheWalkthroughsTar
// imports one): the walkthrough's, and none where the entries are relative
// to the root or sit under more than one.
func TestTopDir(t *testing.T) {
	root := makeTree(t)
	walkthrough := packBytes(t, root, PackOptions{Prefix: "my-new-root"})
	if top, _, err := topDir(bg, bytes.NewReader(walkthrough)); err != nil || top != "my-new-root" {
		t.Fatalf("topDir(walkthrough tar) = %q, %v; want my-new-root", top, err)
	}
	for _, tc := range []struct {
		name    string
		archive []byte
		want    string
	}{
		{"relative to the root", packBytes(t, root, PackOptions{}), ""},
		{"only usr/", buildTar(t, dir("usr/"), dir("usr/bin/"), file("usr/bin/ls", "ls")), ""},
		{"one file", buildTar(t, file("hello", "hi")), ""},
		{"two tops", buildTar(t, dir("a/"), file("a/x", "x"), file("b", "b")), ""},
		{"implicit top dir, gzipped", gzipped(t, buildTar(t, file("rootfs/bin/sh", "sh"), file("rootfs/etc/passwd", "x"))), "rootfs"},
		{"./ prefixed", buildTar(t, dir("./"), dir("./box/"), file("./box/bin/sh", "sh")), "box"},
		{"GNU volume label first", buildTar(t, entry{typ: typeGNUVolumeLabel, name: "week1"}, dir("box/"), file("box/bin/sh", "sh")), "box"},
	} {
		if got, _, err := topDir(bg, bytes.NewReader(tc.archive)); err != nil || got != tc.want {
			t.Errorf("topDir(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestBrokenArchives(t *testing.T) {
	// Random contents, so that the gzipped archive is as long as the tar and
	// cutting it in half cuts inside an entry.
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return string(b)
	}
	good := buildTar(t, dir("bin/"), file("bin/a", noise(3000)), file("bin/b", noise(3000)))
	badSum := append([]byte(nil), good...)
	badSum[600] ^= 0xff // inside the second header's name: its checksum no longer matches
	gz := gzipped(t, good)
	// Headers archive/tar reads inside Next and never hands over: a PAX
	// header (extended attributes, a long name) or GNU's long name, which
	// come after an entry and before the next; cut right after one, the
	// stream ends as quietly as at an entry's end.
	withHeaders := func(format tar.Format, hdrs ...*tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hdrs {
			h.Format, h.Mode, h.Typeflag = format, 0o644, tar.TypeReg
			h.Size = int64(len("hello"))
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Write([]byte("hello"))
		}
		tw.Close()
		return b.Bytes()
	}
	long := strings.Repeat("n", 150)
	pax := withHeaders(tar.FormatPAX, &tar.Header{Name: "a"}, &tar.Header{Name: "b", PAXRecords: map[string]string{"SCHILY.xattr.user.x": "1"}})
	paxFirst := withHeaders(tar.FormatPAX, &tar.Header{Name: long})
	gnuFirst := withHeaders(tar.FormatGNU, &tar.Header{Name: long})
	// A PAX record Go's reader refuses (a time too big), made by
	// writing a comment of the same length and changing its bytes: the
	// writer writes no bad record, and the header's checksum does not
	// cover its records.
	comment := "comment=" + strings.Repeat("x", 26)
	badPAX := bytes.Replace(withHeaders(tar.FormatPAX, &tar.Header{Name: "a"}, &tar.Header{Name: "b", PAXRecords: map[string]string{"comment": strings.Repeat("x", 26)}}),
		[]byte(comment), []byte("mtime=-"+strings.Repeat("9", 25)+".5"), 1)
	// A GNU.sparse record on a directory (made as badPAX is: Go's writer
	// drops such records), which makes no entry sparse: the archive cut
	// after the file that follows is as truncated as any.
	var sparseNote bytes.Buffer
	tw := tar.NewWriter(&sparseNote)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX, PAXRecords: map[string]string{"comment": strings.Repeat("x", 9)}})
	for _, name := range []string{"bin/sh", "etc/passwd"} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
		tw.Write([]byte("hello"))
	}
	tw.Close()
	dirSparseNote := bytes.Replace(sparseNote.Bytes(), []byte("comment="+strings.Repeat("x", 9)), []byte("GNU.sparse.note=1"), 1)
	shAt := bytes.Index(dirSparseNote, []byte("bin/sh\x00"))
	gzFlipped := append([]byte(nil), gz...)
	gzFlipped[len(gzFlipped)/2] ^= 0xff
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"cut inside a file's data", good[:512*3+1000], "truncated"},
		{"cut inside a header", good[:512*2+100], "truncated"},
		// At an entry's end: bin/b would be lost without a word, where
		// archive/tar answers io.EOF as it does at the end-of-archive
		// blocks of zeros.
		{"cut at an entry's end", good[:512+512+3072], `truncated, after entry "bin/a"`},
		{"gzip of a tar cut at an entry's end", gzipped(t, good[:512+512+3072]), `truncated, after entry "bin/a"`},
		{"cut after a PAX header", pax[:2048], `truncated, after entry "a"`},
		{"cut at an entry's end, after a GNU.sparse record on a directory", dirSparseNote[:shAt/512*512+1024], `truncated, after entry "bin/sh"`},
		{"cut after the first entry's PAX header", paxFirst[:1024], "truncated, before its first entry"},
		{"cut after the first entry's GNU long name", gnuFirst[:1024], "truncated, before its first entry"},
		{"bad header checksum", badSum, "corrupt"},
		{"a PAX record out of bounds", badPAX, `corrupt, after entry "a": read the next header: bytes that are not a tar header, or a header with an extended (PAX) record it cannot be`},
		{"gzip cut short", gz[:len(gz)/2], "truncated"},
		{"gzip with a flipped byte", gzFlipped, "corrupt"},
		{"gzip header only", gz[:5], "truncated"},
		{"not a tar: a line of text", []byte("hello, this is not a tar\n"), "not a tar archive"},
		{"not a tar: 2 kB of text", bytes.Repeat([]byte("hello\n"), 400), "not a tar archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t)
			_, err := unpackBytes(s, tc.data, UnpackOptions{})
			s.check(t, err)
			if !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unpack = %v, want an ErrArchive saying %q", err, tc.want)
			}
			// In workshop's words, not those of Go's packages.
			for _, goWords := range []string{"archive/tar:", "gzip:", "flate:", "bzip2 data invalid"} {
				if err != nil && strings.Contains(err.Error(), goWords) {
					t.Errorf("Unpack = %v: Go's words (%q), not workshop's", err, goWords)
				}
			}
			if _, _, err := topDir(bg, bytes.NewReader(tc.data)); !errors.Is(err, ErrArchive) {
				t.Errorf("topDir = %v, want an ErrArchive", err)
			}
		})
	}
	t.Run("xz", func(t *testing.T) {
		s := newScene(t)
		_, err := unpackBytes(s, []byte("\xfd7zXZ\x00rest"), UnpackOptions{})
		s.check(t, err)
		if err == nil || !strings.Contains(err.Error(), "(xz -dc ARCHIVE > archive.tar)") {
			t.Errorf("Unpack(xz) = %v, want a sentence saying to decompress with xz -dc, which takes any name", err)
		}
	})
}

// A directory named by two entries gets the last one's mode and times, as
// a file named twice gets the last one's contents (and as GNU tar does).
func TestDuplicateDirectoryLastEntryWins(t *testing.T) {
	first, last := time.Unix(111, 0), time.Unix(222, 0)
	s := newScene(t)
	_, err := unpackBytes(s, buildTar(t, dir("bin/").withMode(0o700).withTime(first), file("bin/x", "x"), dir("bin/").withMode(0o751).withTime(last)), UnpackOptions{})
	s.check(t, err)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.dest, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o751 || !fi.ModTime().Equal(last) {
		t.Errorf("bin after two entries = %v, %v; want the last entry's 0751 and %v", fi.Mode().Perm(), fi.ModTime(), last)
	}
}

// An entry deeper than maxDepth is refused by name: resolving it inside the
// root costs the square of its depth, and a small archive of such entries
// would keep an import busy for minutes.
func TestTooDeepEntryIsRefused(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("d/", n-1) + "f" }
	s := newScene(t)
	_, err := unpackBytes(s, buildTar(t, file(deep(maxDepth), "x")), UnpackOptions{})
	s.check(t, err)
	if err != nil {
		t.Errorf("Unpack of an entry %d names deep = %v, want it unpacked", maxDepth, err)
	}
	s = newScene(t)
	_, err = unpackBytes(s, buildTar(t, file(deep(maxDepth+1), "x")), UnpackOptions{})
	s.check(t, err)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d names deep", maxDepth+1)) {
		t.Errorf("Unpack of an entry %d names deep = %v, want it refused, saying how deep", maxDepth+1, err)
	}
}

// An entry under a name an earlier entry made a file is refused in words
// of the archive's names: not of the temporary root, gone by then.
func TestEntryUnderAFile(t *testing.T) {
	s := newScene(t)
	_, err := unpackBytes(s, buildTar(t, file("a", "x"), file("a/b", "y")), UnpackOptions{})
	s.check(t, err)
	if err == nil || !strings.Contains(err.Error(), `entry "a/b"`) || !strings.Contains(err.Error(), "is not a directory") || strings.Contains(err.Error(), ".unpack-") {
		t.Errorf("Unpack of a/b after a file a = %v, want it refused by its name, without the temporary root's path", err)
	}
}

// What may follow a gzip member: another member (gzip -d reads them one
// after the other), or zeros that pad the file to a block (gzip -d and GNU
// tar accept them); anything else is damage.
func TestGzipMembersAndPadding(t *testing.T) {
	good := buildTar(t, dir("bin/"), file("bin/a", "a"), file("bin/b", "b"))
	half := 512 + 1024 // bin/ and bin/a, without the end of the archive
	two := append(gzipped(t, good[:half]), gzipped(t, good[half:])...)
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" for a whole root
	}{
		{"two members", two, ""},
		{"zeros after the member", append(gzipped(t, good), make([]byte, 1000)...), ""},
		{"one zero after the member", append(gzipped(t, good), 0), ""},
		{"text after the member", append(gzipped(t, good), "trailing garbage"...), "corrupt"},
		{"zeros, then text", append(append(gzipped(t, good), make([]byte, 100)...), 'x'), "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t)
			_, err := unpackBytes(s, tc.data, UnpackOptions{})
			s.check(t, err)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Unpack = %v, want the root", err)
			case tc.want == "":
				if b, err := os.ReadFile(filepath.Join(s.dest, "bin", "b")); err != nil || string(b) != "b" {
					t.Errorf("bin/b = %q, %v; want b", b, err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Errorf("Unpack = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// The end-of-archive marker is two blocks of zeros; some writers leave out
// the second, and an archive with one is whole: after a file's data, and
// after an entry of no data (a directory), which ends at its header. Were a
// size of 0 rounded up to a whole block, the marker would be looked for a
// block later, and the archive refused as truncated.
func TestOneEndBlockIsEnough(t *testing.T) {
	for _, tc := range []struct {
		name string
		good []byte
	}{
		{"a file last", buildTar(t, dir("bin/"), file("bin/a", "a"))},
		{"a directory last", buildTar(t, file("a", "a"), dir("bin/"))},
	} {
		good := tc.good
		if !bytes.Equal(good[len(good)-1024:], make([]byte, 1024)) {
			t.Fatalf("%s: the test archive does not end with two blocks of zeros", tc.name)
		}
		s := newScene(t)
		_, err := unpackBytes(s, good[:len(good)-512], UnpackOptions{})
		s.check(t, err)
		if err != nil {
			t.Errorf("%s: Unpack of an archive ending with one block of zeros = %v, want it whole", tc.name, err)
		}
		if _, _, err := topDir(bg, bytes.NewReader(good[:len(good)-512])); err != nil {
			t.Errorf("%s: topDir of an archive ending with one block of zeros = %v", tc.name, err)
		}
	}
}

func TestUnpackNeedsAFreshDestination(t *testing.T) {
	base := t.TempDir()
	full := filepath.Join(base, "full")
	mustDo(t, os.MkdirAll(full, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o644))
	_, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(buildTar(t, file("x", "x"))), full, UnpackOptions{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Unpack into a non-empty dir = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep")); string(b) != "mine" {
		t.Errorf("the non-empty destination was touched")
	}
	empty := filepath.Join(base, "empty")
	mustDo(t, os.Mkdir(empty, 0o755))
	if _, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(buildTar(t, file("x", "x"))), empty, UnpackOptions{}); err != nil {
		t.Errorf("Unpack into an empty dir = %v", err)
	}
	wantFile(t, filepath.Join(empty, "x"), "x")
	if fi, _ := os.Stat(empty); fi.Mode().Perm() != 0o755 {
		t.Errorf("a root without a ./ entry has mode %v, want 0755", fi.Mode().Perm())
	}
}

// An empty directory that the rename cannot replace is refused before any
// work, with a sentence: the current directory (the shell would be left in
// the old, removed one; given as ".", the kernel said "rename .: device or
// resource busy" after the whole unpack) and a mount point.
func TestUnpackRefusesTheCurrentDirectoryAndAMountPoint(t *testing.T) {
	unpack := func(dest string) error {
		_, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(buildTar(t, file("x", "x"))), dest, UnpackOptions{})
		return err
	}
	cwd := filepath.Join(t.TempDir(), "here")
	mustDo(t, os.Mkdir(cwd, 0o755))
	t.Chdir(cwd)
	for _, dest := range []string{".", cwd} {
		if err := unpack(dest); err == nil || !strings.Contains(err.Error(), "is the current directory") {
			t.Errorf("Unpack into %s, the current directory = %v, want a refusal", dest, err)
		}
	}
	testbin.NeedRoot(t) // the mounts below
	mnt := filepath.Join(t.TempDir(), "mnt")
	mustDo(t, os.Mkdir(mnt, 0o755))
	mustDo(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, ""))
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	if err := unpack(mnt); err == nil || !strings.Contains(err.Error(), "is a mount point") {
		t.Errorf("Unpack onto a mount point = %v, want a refusal", err)
	}
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Errorf("the mount point got %d entries", len(entries))
	}
	// A bind mount of a directory of the same filesystem: no other
	// device to tell it by.
	src, bound := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "bound")
	mustDo(t, os.Mkdir(src, 0o755))
	mustDo(t, os.Mkdir(bound, 0o755))
	mustDo(t, unix.Mount(src, bound, "", unix.MS_BIND, ""))
	defer unix.Unmount(bound, unix.MNT_DETACH)
	if err := unpack(bound); err == nil || !strings.Contains(err.Error(), "is a mount point") {
		t.Errorf("Unpack onto a bind mount = %v, want a refusal", err)
	}
}

func TestUnpackCancelledLeavesNothing(t *testing.T) {
	s := newScene(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(buildTar(t, dir("a/"), file("a/x", strings.Repeat("x", 100000)), file("a/y", "y"))), cancel: cancel, after: 2048}
	_, err := Unpack(ctx, sys.Discard(), r, s.dest, UnpackOptions{})
	s.check(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Unpack after cancel = %v, want context.Canceled", err)
	}
}

// cancelAfter cancels a context once n bytes were read: Ctrl-C in the middle.
type cancelAfter struct {
	r      io.Reader
	cancel func()
	after  int
	read   int
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func TestUnpackNarratesTheBracketsAndASummary(t *testing.T) {
	var buf bytes.Buffer
	n := sys.New(&buf, sys.Options{})
	dest := filepath.Join(t.TempDir(), "container-root")
	_, err := Unpack(context.Background(), n, bytes.NewReader(buildTar(t, dir("./"), dir("./bin/"), file("./bin/bash", "b"))), dest, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`mkdirat(AT_FDCWD, "` + filepath.Dir(dest) + `/.container-root.unpack-`, `renameat(AT_FDCWD, "`, `AT_FDCWD, "` + dest + `") = 0`, "3 entries: 2 directories, 1 file (1 B)"} {
		if !strings.Contains(out, want) {
			t.Errorf("narration lacks %q:\n%s", want, out)
		}
	}
}

func TestEntryPath(t *testing.T) {
	for _, tc := range []struct{ name, strip, want string }{
		{"./bin/bash", "", "bin/bash"},
		{"/bin/bash", "", "bin/bash"},
		{"//bin//bash/", "", "bin/bash"},
		{"./", "", "."},
		{"", "", "."},
		{"a/../b", "", "b"},
		{"my-new-root/bin/bash", "my-new-root", "bin/bash"},
		{"my-new-root/", "my-new-root", "."},
		{"./my-new-root/bin", "my-new-root", "bin"},
		{"my-new-rootx/bin", "my-new-root", "my-new-rootx/bin"},
	} {
		if got, err := entryPath(tc.name, tc.strip); err != nil || got != tc.want {
			t.Errorf("entryPath(%q, %q) = %q, %v; want %q", tc.name, tc.strip, got, err, tc.want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "/../x"} {
		if got, err := entryPath(bad, ""); err == nil {
			t.Errorf("entryPath(%q) = %q, want a refusal", bad, got)
		}
	}
}

func tarNames(t *testing.T, b []byte) []string {
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "unpacking")
	p.last = time.Time{} // as if the last redraw was long ago
	p.update(1234, 56_000_000)
	p.done()
	if got, want := buf.String(), "\r\033[K  unpacking… 1234 entries, 56 MB\r\033[K"; got != want {
		t.Errorf("progress wrote %q, want %q", got, want)
	}
	if ProgressTo(&buf) != nil {
		t.Errorf("ProgressTo(a buffer) is not nil: only a terminal gets a progress line")
	}
	quiet := newProgress(nil, "unpacking")
	quiet.last = time.Time{}
	quiet.update(1, 1) // no writer: nothing, and no panic
	quiet.done()
}

func TestStatsSummary(t *testing.T) {
	st := Stats{Entries: 5, Dirs: 1, Files: 2, Symlinks: 1, Hardlinks: 1, Bytes: 4200}
	if got, want := st.String(), "5 entries: 1 directory, 2 files (4.2 kB), 1 symlink, 1 hardlink"; got != want {
		t.Errorf("Stats.String() = %q, want %q", got, want)
	}
	for b, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 14_300_000: "14 MB", 2_500_000_000: "2.5 GB"} {
		if got := HumanSize(b); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", b, got, want)
		}
	}
}

// The base image's terminfo entries are written inside its root: its lib
// is the host's symlink, copied as it is, and an absolute one (lib ->
// /usr/lib) must lead to the root's usr/lib, not the host's. Here it
// names a victim directory outside the root, which stays empty.
func TestWriteInRootStaysInTheRoot(t *testing.T) {
	root, victim := t.TempDir(), t.TempDir()
	if err := os.Symlink(victim, filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	rootDir, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rootDir.Close()
	if err := writeInRoot(rootDir, root, "lib/terminfo/x", "xterm", []byte("entry")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(victim); len(entries) != 0 {
		t.Errorf("writeInRoot wrote outside the root, into %s: %v", victim, entries)
	}
	inside := filepath.Join(root, victim, "terminfo", "x", "xterm")
	if b, err := os.ReadFile(inside); err != nil || string(b) != "entry" {
		t.Errorf("%s = %q, %v; want the entry there, inside the root", inside, b, err)
	}
	for d := filepath.Dir(inside); d != root; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", d, fi.Mode(), err)
		}
	}
}

// Two unpacks into one DIR at once: both found it empty, the first renamed
// its root there, and the second's rename onto a directory now full is the
// sentence of a DIR that is not empty, not rename's errno.
func TestUnpackIntoADirFilledMeanwhile(t *testing.T) {
	dir := t.TempDir()
	mine, dest := filepath.Join(dir, ".u.unpack-0123456789ab"), filepath.Join(dir, "u")
	for _, d := range []string{filepath.Join(mine, "bin"), filepath.Join(dest, "bin")} {
		mustDo(t, os.MkdirAll(d, 0o755))
	}
	err := placeError(dest, sys.Discard().Rename(mine, dest))
	if err == nil || !strings.HasPrefix(err.Error(), dest+" exists and is not empty: it was filled while this unpack ran") {
		t.Errorf("rename onto a directory filled meanwhile = %v, want the sentence of a DIR that is not empty", err)
	}
}

// A sparse file before the last entry does not turn the check for the
// end-of-archive blocks off for the entries after it.
func TestEndMarkSparseThenMore(t *testing.T) {
	e := newEndMark(bytes.NewReader(nil))
	e.n = 2048 // two entries' headers and data read, and no block after
	e.entry(&tar.Header{Typeflag: tar.TypeReg, Name: "s", PAXRecords: map[string]string{"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}})
	if e.check("s") != nil {
		t.Errorf("after a sparse last entry, check = an error: its stored size is not known")
	}
	e.entry(&tar.Header{Typeflag: tar.TypeDir, Name: "d/"})
	if err := e.check("d/"); err == nil || !strings.Contains(err.Error(), `truncated, after entry "d/"`) {
		t.Errorf("a directory after a sparse file, and no end blocks: check = %v, want it truncated", err)
	}
}

// A destination holding a single file is refused before the unpack, with
// the sentence that says to remove it. Were one entry let through, the
// whole archive would be unpacked beside it, and only the rename at the end
// would fail, saying the directory "was filled while this unpack ran",
// which is false and sends the student looking for another unpack.
func TestUnpackIntoADirectoryOfOneFileSaysRemoveIt(t *testing.T) {
	full := filepath.Join(t.TempDir(), "full")
	mustDo(t, os.MkdirAll(full, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o644))
	_, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(buildTar(t, file("x", "x"))), full, UnpackOptions{})
	want := full + " exists and is not empty: unpack makes a fresh root, remove it first or pick another directory"
	if err == nil || err.Error() != want {
		t.Errorf("Unpack into a directory holding one file = %v\nwant %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "filled while this unpack ran") {
		t.Errorf("Unpack into a directory holding one file = %v: it was full before the unpack began", err)
	}
	wantFile(t, filepath.Join(full, "keep"), "mine")
	if _, err := os.Lstat(filepath.Join(full, "x")); err == nil {
		t.Errorf("the archive's x was unpacked into the refused destination")
	}
}
