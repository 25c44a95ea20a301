package lab

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestLab5ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)

	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "there is no dockercontainer.tar") {
		t.Fatalf("no tar yet: report\n%s", findingsText(r))
	}

	// The walkthrough's own command: entries under my-new-root/.
	sh(t, dir, "tar cvf dockercontainer.tar my-new-root")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "sits under my-new-root/") || !strings.Contains(findingsText(r), "-C") {
		t.Fatalf("walkthrough's tar: report\n%s", findingsText(r))
	}

	// The root named by its absolute path: GNU tar drops the leading /
	// only, and the top directory, tmp, is one a root has too.
	sh(t, dir, `tar cf dockercontainer.tar "$PWD/my-new-root"`)
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	under := strings.TrimPrefix(filepath.Join(dir, "my-new-root"), "/")
	if text := findingsText(r); r.Done() || !strings.Contains(text, "every entry in dockercontainer.tar sits under "+under+"/") || !strings.Contains(text, "tar stored the path you gave it") {
		t.Fatalf("a tar of the root's absolute path: report\n%s", text)
	}

	sh(t, dir, "tar -C my-new-root -cvf dockercontainer.tar .")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "mkdir container-root") {
		t.Fatalf("no container-root: report\n%s", findingsText(r))
	}

	sh(t, dir, "mkdir container-root && tar xf dockercontainer.tar -C container-root/")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if !r.Done() {
		t.Fatalf("the exercise is done, but the check says\n%s", findingsText(r))
	}

	// An archive that cannot run on its own (bin only, no libraries)
	// beside the working container-root of before: not done.
	sh(t, dir, "tar -C my-new-root -cf dockercontainer.tar bin")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "unpacked into a fresh directory, does not run") {
		t.Fatalf("an archive of bin/ alone, beside an older container-root: report\n%s", text)
	}

	// container-root that is not the archive unpacked: a symlink to the
	// root, or a copy missing a file the archive has.
	sh(t, dir, "tar -C my-new-root -cvf dockercontainer.tar . && rm -rf container-root && ln -s my-new-root container-root")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "container-root is a symlink") {
		t.Fatalf("container-root a symlink to my-new-root: report\n%s", text)
	}
	sh(t, dir, "rm container-root && mkdir container-root && tar xf dockercontainer.tar -C container-root/ && echo extra > my-new-root/extra && tar -C my-new-root -cf dockercontainer.tar .")
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "container-root does not hold what dockercontainer.tar unpacks to: it has no extra") {
		t.Fatalf("container-root older than the archive: report\n%s", text)
	}
}

// TestLab5MergedUsr packs a merged-/usr root, as step 2 makes on Debian 12
// (bin -> usr/bin): the shell's entry is usr/bin/bash, and the check must
// still find it.
func TestLab5MergedUsr(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, "mkdir -p my-new-root/usr && mv my-new-root/bin my-new-root/usr/bin && ln -s usr/bin my-new-root/bin")
	sh(t, dir, packedRight)
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Fatalf("a merged-/usr root packed right, but the check says\n%s", findingsText(r))
	}
}

// A root whose only top directory is bin/ (a static busybox and sh, as
// lesson 1's exercise makes) is not a root wrapped in a directory: the
// check passes it, as image import takes it.
func TestLab5BinOnlyRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	bb := testbin.NeedTool(t, "busybox")
	sh(t, dir, "mkdir -p my-new-root/bin && cp "+bb+" my-new-root/bin/busybox && ln -s busybox my-new-root/bin/sh")
	sh(t, dir, packedRight)
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() || strings.Contains(findingsText(r), "sits under bin/") {
		t.Fatalf("a bin-only root, packed and unpacked: report\n%s", findingsText(r))
	}
}

// bash at usr/bin/bash with no bin link (where `which bash` sent a student
// on Debian 12): run by that path, as chroot finds it on the PATH.
func TestLab5UsrBinWithoutBinLink(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, "mkdir -p my-new-root/usr && mv my-new-root/bin my-new-root/usr/bin")
	sh(t, dir, packedRight)
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() || !strings.Contains(findingsText(r), "with /usr/bin/bash") {
		t.Fatalf("bash at usr/bin/bash only, packed right: the check says\n%s", findingsText(r))
	}
}

// The archive is tried beside itself, not in $TMPDIR, which may be noexec.
func TestLab5NoexecTmpdir(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, packedRight)
	noexec := t.TempDir()
	sh(t, dir, "mount -t tmpfs -o noexec tmpfs "+noexec)
	t.Cleanup(func() { sh(t, dir, "umount "+noexec) })
	t.Setenv("TMPDIR", noexec)
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Fatalf("with TMPDIR on a noexec mount, the check says\n%s", findingsText(r))
	}
}

// packedRight is the exercise done right: the root packed with its entries
// relative to it, and unpacked into a fresh container-root.
const packedRight = "tar -C my-new-root -cf dockercontainer.tar . && mkdir container-root && tar xf dockercontainer.tar -C container-root/"

// A FIFO named dockercontainer.tar is reported, not opened: the check
// waited for a writer for ever.
func TestLab5FIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "dockercontainer.tar")
	stop := testbin.MakeFIFO(t, fifo)
	r, err := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if stop() {
		t.Errorf("lab 5 check waited on a FIFO named dockercontainer.tar")
	}
	if err != nil || r.Done() || !strings.Contains(findingsText(r), "not a regular file") {
		t.Errorf("a FIFO for the tar: %v, report\n%s", err, findingsText(r))
	}
}

// The archive is unpacked as root to be run: a device node in it is
// refused (the archive's program could open the device through it), the
// setuid bits it gives are dropped, and the copy is made in the state dir,
// never in the student's directory, where a symlink could stand in for it.
func TestLab5UnpacksTheArchiveWithoutItsDevicesOrSetuid(t *testing.T) {
	testbin.NeedRoot(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	populateBash(t, dir)
	sh(t, dir, "mkdir container-root")
	tarOfRoot(t, dir, &tar.Header{Typeflag: tar.TypeChar, Name: "./dev/kmsg", Mode: 0o666, Devmajor: 1, Devminor: 11})
	r, _ := Check(5, Options{Dir: dir, StateDir: stateDir})
	text := findingsText(r)
	if r.Done() || !strings.Contains(text, "refuses device nodes") || !strings.Contains(text, "the check makes no device node from an archive") {
		t.Errorf("an archive with a device node: report\n%s", text)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".workshop-lab5-*")); len(m) > 0 {
		t.Errorf("the check made %q in the student's directory", m)
	}
	if m, _ := filepath.Glob(filepath.Join(stateDir, state.LabScratchPrefix+"*")); len(m) > 0 {
		t.Errorf("the check left %q in the state dir", m)
	}

	// dropSetID: every file of the copy, none through a link.
	root := t.TempDir()
	sh(t, root, "touch suid sgid plain target && chmod 4755 suid && chmod 2755 sgid && chmod 4755 target && ln -s target link")
	if err := os.Remove(filepath.Join(root, "target")); err != nil {
		t.Fatal(err)
	}
	if err := dropSetID(root); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"suid", "sgid", "plain"} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 && name != "plain" {
			t.Errorf("%s after dropSetID: %v, %v", name, fi.Mode(), err)
		}
	}
}

func TestWrappedUnder(t *testing.T) {
	for _, tc := range []struct {
		names        []string
		under, shell string
	}{
		{[]string{"tmp/", "tmp/lab/", "tmp/lab/r/", "tmp/lab/r/bin/", "tmp/lab/r/bin/bash", "tmp/lab/r/lib/libc.so"}, "tmp/lab/r", "bin/bash"},
		{[]string{"./", "./bin/", "./bin/bash"}, "", ""}, // at the root: not wrapped
		{[]string{"a/x/bin/bash", "b/y"}, "", ""},        // no one directory holds all
		{[]string{"r/usr/bin/sh", "r/etc/passwd", "r/"}, "r", "usr/bin/sh"},
		{[]string{"r/bin/bash", "r/x/bin/bash"}, "r", "bin/bash"},
	} {
		if under, shell := wrappedUnder(tc.names); under != tc.under || shell != tc.shell {
			t.Errorf("wrappedUnder(%q) = %q, %q; want %q, %q", tc.names, under, shell, tc.under, tc.shell)
		}
	}
	// Many directories each with a bash, none holding all: no answer, and
	// only the candidates at or above the leaves' common part are tried
	// (this took minutes as every entry against every entry).
	var names []string
	for i := range 100000 {
		names = append(names, "usr", fmt.Sprintf("usr/q%d/bin/bash", i))
	}
	if under, _ := wrappedUnder(names); under != "" {
		t.Errorf("wrappedUnder of 100,000 roots side by side = %q, want none", under)
	}
}

// An archive the unpacker refuses (an entry that would land outside the
// root) gets a hint about packing from inside the root, not "did the
// archive get the libraries too?"; and one entry is "1 entry".
func TestLab5RefusedArchive(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	tarOfRoot(t, dir, &tar.Header{Typeflag: tar.TypeReg, Name: "../x", Mode: 0o644})
	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "refuses an entry that could land outside the root") {
		t.Errorf("an archive with a ../ entry: report\n%s", text)
	}
	if got := entries(1); got != "1 entry" {
		t.Errorf("entries(1) = %q", got)
	}
}

// Where the check's own unpack cannot work (its state dir noexec, or
// full), the check fails (125) and says why, instead of telling the
// student to repack; a state dir others may write in is not used.
func TestLab5WhereItsStateDirFails(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, packedRight)
	for _, tc := range []struct {
		flags      uintptr
		opts, says string
	}{
		{unix.MS_NOEXEC, "size=64m,mode=0755", "is on a filesystem mounted noexec"},
		{0, "size=64k,mode=0755", "not enough room"},
	} {
		st := t.TempDir()
		if err := unix.Mount("tmpfs", st, "tmpfs", tc.flags, tc.opts); err != nil {
			t.Fatal(err)
		}
		r, err := Check(5, Options{Dir: dir, StateDir: st})
		unix.Unmount(st, unix.MNT_DETACH)
		if exit.Status(err) != exit.ToolFailed || !strings.Contains(err.Error(), "the check could not") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("lab 5 with a state dir %s: %v (report %v)", tc.opts, err, r)
		}
	}
	open := t.TempDir()
	testbin.Chmod(t, 0o777, open)
	if p, err := scratchParent(open); err != nil || p != os.TempDir() {
		t.Errorf("scratchParent of a state dir anyone may write in = %q, %v; want %s", p, err, os.TempDir())
	}
	if p, err := scratchParent(t.TempDir()); err != nil || p == os.TempDir() {
		t.Errorf("scratchParent of root's own state dir = %q, %v", p, err)
	}
}

// tarOfRoot writes dir/dockercontainer.tar: dir/my-new-root packed as tar
// -C my-new-root -cf … . would, then the extra entries (a regular one with
// a Size holds that many bytes of 'x'), in Go: busybox's tar, in the v2 VM,
// takes neither -r nor -P.
func tarOfRoot(t *testing.T, dir string, extra ...*tar.Header) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "dockercontainer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	root := filepath.Join(dir, "my-new-root")
	err = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = "./" + filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			if _, err := tw.Write([]byte(strings.Repeat("x", int(h.Size)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// The walkthrough's container-root, with my-new-root/ in it, and the
// archive unpacked over it: not a fresh one, and the check says so (it
// passed); the solution starts by removing it.
func TestLab5UnpackedOverTheWalkthroughs(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, "tar cf walkthrough.tar my-new-root && mkdir container-root && tar xf walkthrough.tar -C container-root/ && tar -C my-new-root -cf dockercontainer.tar . && tar -xf dockercontainer.tar -C container-root/")
	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "container-root also holds my-new-root, which dockercontainer.tar does not") {
		t.Errorf("an unpack over the walkthrough's container-root: report\n%s", text)
	}
	if !strings.Contains(r.Solution, "rm -rf container-root") {
		t.Errorf("the solution does not start afresh:\n%s", r.Solution)
	}
}

// An archive a file was appended to twice (tar -rf): tar -xf leaves the
// last copy, and the check compares with that one (it compared the first,
// and no unpack could pass).
func TestLab5AppendedArchive(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	// As tar -rf ./motd twice would append it (busybox's tar, in the v2
	// VM, has no -r): 6 bytes, then 20.
	tarOfRoot(t, dir, &tar.Header{Typeflag: tar.TypeReg, Name: "./motd", Mode: 0o644, Size: 6},
		&tar.Header{Typeflag: tar.TypeReg, Name: "./motd", Mode: 0o644, Size: 20})
	sh(t, dir, "mkdir container-root && tar -xf dockercontainer.tar -C container-root/")
	// The root holds motd as it was last appended.
	if err := os.WriteFile(filepath.Join(dir, "my-new-root", "motd"), []byte(strings.Repeat("x", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Errorf("an archive with motd appended twice, unpacked with tar -xf: report\n%s", findingsText(r))
	}
}

// An archive tar -xf reads but the check cannot (xz: tar -cJf) is said to
// be that, not damage to make again with tar -cvf.
func TestLab5XzArchive(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dockercontainer.tar"), []byte("\xfd7zXZ\x00\x00\x04rest"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "compressed with xz") || !strings.Contains(text, "plain or gzipped (tar -cvf, tar -czvf)") {
		t.Errorf("an xz archive: report\n%s", text)
	}
}

// An archive that is not my-new-root packed (workshop's own step 5 archive
// copied, an image exported) is refused, though it runs: it holds a file
// the student's root does not.
func TestLab5ArchiveOfAnotherRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	tarOfRoot(t, dir, &tar.Header{Typeflag: tar.TypeReg, Name: "./usr/bin/other", Mode: 0o755, Size: 7})
	sh(t, dir, "mkdir container-root && tar -xf dockercontainer.tar -C container-root/")
	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "dockercontainer.tar is not my-new-root packed: my-new-root has no usr/bin/other") {
		t.Errorf("an archive of another root: report\n%s", text)
	}
	// A file that grew since it was packed (a shell's history) is still
	// my-new-root's; a check from a directory without my-new-root says
	// where to run it.
	sh(t, dir, "mkdir -p my-new-root/usr/bin && echo grown-since > my-new-root/usr/bin/other")
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); strings.Contains(findingsText(r), "is not my-new-root packed") {
		t.Errorf("an archive of my-new-root, a file grown since: report\n%s", findingsText(r))
	}
	sh(t, dir, "mv my-new-root elsewhere")
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); r.Done() || !strings.Contains(findingsText(r), "there is no directory my-new-root in "+dir) {
		t.Errorf("a check run where there is no my-new-root: report\n%s", findingsText(r))
	}
}

// The exercise has bash run from container-root: a history file the
// archive holds grows there, and is still the archive unpacked.
func TestLab5HistoryGrownInContainerRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	sh(t, dir, "mkdir -p my-new-root/root && echo ls > my-new-root/root/.bash_history && tar -C my-new-root -cf dockercontainer.tar . && mkdir container-root && tar -xf dockercontainer.tar -C container-root/")
	sh(t, dir, "echo exit >> container-root/root/.bash_history")
	if r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Errorf("container-root whose history grew: report\n%s", findingsText(r))
	}
}

// An archive the check cannot read, or of one file, or with a sparse
// entry: said in the check's words, not Go's, and not as a wrapped root
// or a lack of room.
func TestLab5OddArchives(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)
	write := func(data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "dockercontainer.tar"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write([]byte(strings.Repeat("not a tar\n", 100)))
	r, _ := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "it is not a tar archive") || strings.Contains(text, "archive/tar") {
		t.Errorf("a file of text: report\n%s", text)
	}

	var one strings.Builder
	tw := tar.NewWriter(&one)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "h", Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	write([]byte(one.String()))
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || strings.Contains(text, "sits under") || !strings.Contains(text, "has no bin/bash") {
		t.Errorf("an archive of one file: report\n%s", text)
	}
	write([]byte(one.String()[:512+512+100])) // cut inside the end marker, read as a header
	r, _ = Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "it is cut short, after 1 entry") {
		t.Errorf("an archive cut short: report\n%s", text)
	}

	tarOfRoot(t, dir, &tar.Header{Typeflag: tar.TypeReg, Name: "sparse", Size: 4, Mode: 0o644,
		PAXRecords: map[string]string{"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "sparse", "GNU.sparse.realsize": "1099511627776"}})
	r, err := Check(5, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); err != nil || r.Done() || !strings.Contains(text, "sparse") || strings.Contains(text, "room") {
		t.Errorf("an archive with a 1 TB sparse file: %v, report\n%s", err, text)
	}
}
