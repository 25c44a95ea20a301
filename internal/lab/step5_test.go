package lab

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestLab5ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	populateBash(t, dir)

	r, _ := Check(5, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "there is no dockercontainer.tar") {
		t.Fatalf("no tar yet: report\n%s", findingsText(r))
	}

	// The walkthrough's own command: entries under my-new-root/.
	sh(t, dir, "tar cvf dockercontainer.tar my-new-root")
	r, _ = Check(5, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "sits under my-new-root/") || !strings.Contains(findingsText(r), "-C") {
		t.Fatalf("walkthrough's tar: report\n%s", findingsText(r))
	}

	// The root named by its absolute path: GNU tar drops the leading /
	// only, and the top directory, tmp, is one a root has too.
	sh(t, dir, `tar cf dockercontainer.tar "$PWD/my-new-root"`)
	r, _ = Check(5, Options{Dir: dir})
	under := strings.TrimPrefix(filepath.Join(dir, "my-new-root"), "/")
	if text := findingsText(r); r.Done() || !strings.Contains(text, "every entry in dockercontainer.tar sits under "+under+"/") || !strings.Contains(text, "tar stored the path you gave it") {
		t.Fatalf("a tar of the root's absolute path: report\n%s", text)
	}

	sh(t, dir, "tar -C my-new-root -cvf dockercontainer.tar .")
	r, _ = Check(5, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "mkdir container-root") {
		t.Fatalf("no container-root: report\n%s", findingsText(r))
	}

	sh(t, dir, "mkdir container-root && tar xf dockercontainer.tar -C container-root/")
	r, _ = Check(5, Options{Dir: dir})
	if !r.Done() {
		t.Fatalf("the exercise is done, but the check says\n%s", findingsText(r))
	}

	// An archive that cannot run on its own (bin only, no libraries)
	// beside the working container-root of before: not done.
	sh(t, dir, "tar -C my-new-root -cf dockercontainer.tar bin")
	r, _ = Check(5, Options{Dir: dir})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "unpacked into a fresh directory, does not run") {
		t.Fatalf("an archive of bin/ alone, beside an older container-root: report\n%s", text)
	}

	// container-root that is not the archive unpacked: a symlink to the
	// root, or a copy missing a file the archive has.
	sh(t, dir, "tar -C my-new-root -cvf dockercontainer.tar . && rm -rf container-root && ln -s my-new-root container-root")
	r, _ = Check(5, Options{Dir: dir})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "container-root is a symlink") {
		t.Fatalf("container-root a symlink to my-new-root: report\n%s", text)
	}
	sh(t, dir, "rm container-root && mkdir container-root && tar xf dockercontainer.tar -C container-root/ && echo extra > my-new-root/extra && tar -C my-new-root -cf dockercontainer.tar .")
	r, _ = Check(5, Options{Dir: dir})
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
	if r, _ := Check(5, Options{Dir: dir}); !r.Done() {
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
	if r, _ := Check(5, Options{Dir: dir}); !r.Done() || strings.Contains(findingsText(r), "sits under bin/") {
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
	if r, _ := Check(5, Options{Dir: dir}); !r.Done() || !strings.Contains(findingsText(r), "with /usr/bin/bash") {
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
	if r, _ := Check(5, Options{Dir: dir}); !r.Done() {
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
	r, err := Check(5, Options{Dir: dir})
	if stop() {
		t.Errorf("lab 5 check waited on a FIFO named dockercontainer.tar")
	}
	if err != nil || r.Done() || !strings.Contains(findingsText(r), "not a regular file") {
		t.Errorf("a FIFO for the tar: %v, report\n%s", err, findingsText(r))
	}
}
