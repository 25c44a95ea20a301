package lab

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// sh runs a shell command in dir, as the student types it.
func sh(t *testing.T, dir, command string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return string(out)
}

// lddPaths are the files `ldd prog` names: the libraries after "=>" and the
// loader on a line of its own.
func lddPaths(out string) (libs []string, loader string) {
	for _, m := range regexp.MustCompile(`=> (/\S+)`).FindAllStringSubmatch(out, -1) {
		libs = append(libs, m[1])
	}
	if m := regexp.MustCompile(`(?m)^\s*(/\S+ld-linux\S*)`).FindStringSubmatch(out); m != nil {
		loader = m[1]
	}
	return libs, loader
}

func findingsText(r *Report) string {
	var b strings.Builder
	r.Print(&b, false)
	return b.String()
}

func TestLab2ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()

	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "mkdir my-new-root") {
		t.Fatalf("no root yet: report\n%s", findingsText(r))
	}

	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "ldd /bin/ls") {
		t.Fatalf("ls without its libraries: report\n%s", findingsText(r))
	}

	// The usual mistake: every library copied, but not the loader.
	libs, loader := lddPaths(sh(t, dir, "ldd /bin/ls"))
	if loader == "" || len(libs) == 0 {
		t.Fatalf("could not read ldd's output")
	}
	for _, lib := range libs {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(lib)+" && cp "+lib+" my-new-root"+lib)
	}
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "ld-linux") || !strings.Contains(findingsText(r), "the kernel did not find its loader") {
		t.Fatalf("no loader: report\n%s", findingsText(r))
	}

	sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(loader)+" && cp "+loader+" my-new-root"+loader)
	// The loader may be reached through a symlink (/lib64 -> usr/lib64 on merged-/usr hosts).
	if real, err := filepath.EvalSymlinks(loader); err == nil && real != loader {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(real)+" && cp "+real+" my-new-root"+real)
	}
	// ls not executable: said as such, not as a missing library.
	sh(t, dir, "chmod -x my-new-root/bin/ls")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "chmod +x my-new-root/bin/ls") || strings.Contains(text, "loader") {
		t.Fatalf("ls not executable: report\n%s", text)
	}
	sh(t, dir, "chmod +x my-new-root/bin/ls")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if !r.Done() {
		t.Fatalf("the exercise is done, but the check says\n%s", findingsText(r))
	}
	if _, err := os.Stat(filepath.Join(dir, "my-new-root", "bin", "ls")); err != nil {
		t.Errorf("the check changed the student's root: %v", err)
	}

	// ls elsewhere on the PATH works with `chroot my-new-root ls /`: the
	// check looks for it as chroot does.
	sh(t, dir, "mkdir -p my-new-root/usr/local/bin && mv my-new-root/bin/ls my-new-root/usr/local/bin/ls && chroot my-new-root ls / >/dev/null")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if !r.Done() || !strings.Contains(findingsText(r), "/usr/local/bin/ls") {
		t.Fatalf("ls in /usr/local/bin works with chroot, but the check says\n%s", findingsText(r))
	}
}

// busybox's ls works without a library: it is not the exercise, which is
// the host's ls and the libraries ldd names.
func TestLab2BusyboxIsNotTheExercise(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	bb := testbin.NeedTool(t, "busybox")
	sh(t, dir, "mkdir -p my-new-root/bin && cp "+bb+" my-new-root/bin/busybox && ln -s busybox my-new-root/bin/ls")
	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "needs no library: it is a link to busybox") {
		t.Fatalf("busybox as ls: report\n%s", text)
	}
	// The hint, pasted, replaces the link: a cp onto it wrote GNU ls over
	// my-new-root/bin/busybox, lab 1's work.
	pasteHint(t, dir, r, `(rm my-new-root/bin/ls; cp /bin/ls my-new-root/bin/ls),`)
	sh(t, dir, "cmp -s "+bb+" my-new-root/bin/busybox && test ! -L my-new-root/bin/ls && cmp -s /bin/ls my-new-root/bin/ls")
}

// pasteHint runs the command the report's hint gives (the first match of
// the expression's group) in dir, as a student pastes it: it fails the
// test if the report has none, or the command fails.
func pasteHint(t *testing.T, dir string, r *Report, expr string) {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(findingsText(r))
	if m == nil {
		t.Fatalf("no command %s in the report\n%s", expr, findingsText(r))
	}
	sh(t, dir, m[1])
}

// bin/ls -> /bin/ls names itself inside the root: a loop, said so (it was
// "has /bin/ls", then a hint about libraries), with a command that works.
func TestLab2SymlinkLoop(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "mkdir -p my-new-root/bin && ln -s /bin/ls my-new-root/bin/ls")
	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	text := findingsText(r)
	if r.Done() || !strings.Contains(text, "my-new-root/bin/ls leads round in a loop of symlinks inside the root (my-new-root/bin/ls is a symlink to /bin/ls)") || strings.Contains(text, "has /bin/ls") {
		t.Fatalf("bin/ls -> /bin/ls: report\n%s", text)
	}
	pasteHint(t, dir, r, `\((rm my-new-root/bin/ls; cp /bin/ls my-new-root/bin/ls)\)`)
	sh(t, dir, "test ! -L my-new-root/bin/ls && cmp -s /bin/ls my-new-root/bin/ls")

	// The loop in a directory on the way (bin -> /bin), where a cp to
	// my-new-root/bin/ls would go through the link to the host's own
	// /bin/ls: the hint makes bin anew (it spoke of "a link to the
	// host's " and nothing, and its cp failed: "the same file").
	sh(t, dir, "rm -r my-new-root/bin && ln -s /bin my-new-root/bin")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root/bin/ls leads round in a loop of symlinks inside the root (my-new-root/bin is a symlink to /bin)") {
		t.Fatalf("bin -> /bin: report\n%s", text)
	}
	pasteHint(t, dir, r, `\((rm my-new-root/bin; mkdir my-new-root/bin; cp /bin/ls my-new-root/bin/ls)\)`)
	sh(t, dir, "test ! -L my-new-root/bin && test ! -L my-new-root/bin/ls && cmp -s /bin/ls my-new-root/bin/ls")

	// A loop of relative links inside the root is not called the host's.
	sh(t, dir, "rm my-new-root/bin/ls && ln -s a my-new-root/bin/ls && ln -s b my-new-root/bin/a && ln -s a my-new-root/bin/b")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "(my-new-root/bin/ls is a symlink to a)") || strings.Contains(text, "link to a ") {
		t.Fatalf("bin/ls -> a -> b -> a: report\n%s", text)
	}
}

// A device node where the check looks for a program is named for what it
// is, and not opened (a watchdog's open starts it; a FIFO's waits).
func TestLab2DeviceNodeIsNotOpened(t *testing.T) {
	testbin.NeedRoot(t) // mknod
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(root, "bin", "ls"), syscall.S_IFCHR|0o755, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if why := notDynamic(root, "/bin/ls"); !strings.Contains(why, "not a regular file") {
		t.Errorf("notDynamic(a device node) = %q", why)
	}
}

// bin/ls as an absolute symlink to the host's /usr/bin/ls: inside the root
// it leads nowhere, and the check says so (it spoke of a missing loader).
func TestLab2SymlinkToTheHostsLs(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "mkdir -p my-new-root/bin && ln -s /usr/bin/ls my-new-root/bin/ls")
	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root/bin/ls is a symlink to /usr/bin/ls, which my-new-root does not hold") {
		t.Fatalf("bin/ls -> /usr/bin/ls: report\n%s", text)
	}
	// cp onto a link that leads nowhere is refused: the hint removes it.
	pasteHint(t, dir, r, `\((rm my-new-root/bin/ls; cp -L /bin/ls my-new-root/bin/ls)\)`)
	sh(t, dir, "test ! -L my-new-root/bin/ls && cmp -s /bin/ls my-new-root/bin/ls")
}

// The loader copied as the host has it, an absolute symlink (cp -a of
// /lib64/ld-linux-x86-64.so.2 on Debian 12), leads nowhere inside the
// root: the hint says so, by the loader's own path (it said to copy what
// was copied); and a bin/ that is a symlink out of the root is named.
func TestLab2LinksThatLeadOutOfTheRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	libs, loader := lddPaths(sh(t, dir, "ldd /bin/ls"))
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	for _, lib := range libs {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(lib)+" && cp "+lib+" my-new-root"+lib)
	}
	sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(loader)+" && ln -s /nowhere/ld.so my-new-root"+loader)
	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "loader, "+loader+", is in the root as a symlink to /nowhere/ld.so") {
		t.Errorf("a loader that is a symlink out of the root: report\n%s", text)
	}

	sh(t, dir, "rm -rf my-new-root && mkdir my-new-root && ln -s /usr/bin my-new-root/bin")
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || strings.Contains(text, "did not find its loader") {
		t.Errorf("bin -> /usr/bin, an ls of the host's only: report\n%s", text)
	}
}

// A library others may not read, in a root otherwise right: the loader
// says "No such file or directory" of it, and the hint is still to open
// the root to others (it was to check the libraries' paths).
func TestLab2ClosedLibrary(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	libs, loader := lddPaths(sh(t, dir, "ldd /bin/ls"))
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	for _, f := range append(libs, loader) {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(f)+" && cp -L "+f+" my-new-root"+f)
	}
	if r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Fatalf("the root is right, but the check says\n%s", findingsText(r))
	}
	for _, closing := range []string{"chmod 600 my-new-root" + libs[0], "chmod 700 my-new-root" + filepath.Dir(libs[0])} {
		sh(t, dir, closing)
		r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
		if text := findingsText(r); r.Done() || !strings.Contains(text, "chmod -R a+rX my-new-root") {
			t.Errorf("after %s: report\n%s", closing, text)
		}
		sh(t, dir, "chmod -R a+rX my-new-root")
	}
}

// The loader's directory copied as a symlink (cp -r /lib64 my-new-root/
// on a merged-/usr host copies lib64 -> usr/lib64, and nothing it leads
// to): the hint names that link (it said to copy the loader, which the
// student believed done).
func TestLab2LoaderDirectoryIsADeadLink(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	libs, loader := lddPaths(sh(t, dir, "ldd /bin/ls"))
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	for _, lib := range libs {
		sh(t, dir, "mkdir -p my-new-root"+filepath.Dir(lib)+" && cp -L "+lib+" my-new-root"+lib)
	}
	loaderDir := filepath.Dir(loader)
	if slices.ContainsFunc(libs, func(l string) bool { return strings.HasPrefix(l, loaderDir+"/") }) {
		t.Skipf("the loader's directory %s holds libraries too on this host", loaderDir)
	}
	sh(t, dir, "ln -s usr"+loaderDir+" my-new-root"+loaderDir)
	r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	want := "is reached through my-new-root" + loaderDir + ", a symlink to usr" + loaderDir + " (cp -r copies a symlink as a symlink)"
	if text := findingsText(r); r.Done() || !strings.Contains(text, want) {
		t.Errorf("%s a symlink to usr%s, which the root lacks: report\n%s\nwant %q", loaderDir, loaderDir, text, want)
	}
}

// Programs workshop's step 2 copied (into a root given as --root
// my-new-root) are not the exercise of step 1 or 2, which is to copy them
// by hand: each copy carries step 2's mark, which the checks look for. A
// program copied over it by hand (cp keeps no attribute) has none.
func TestLab1And2NotWorkshopsCopies(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "my-new-root")
	r := testbin.Run(t, "", "--no-color", "--state-dir", t.TempDir(), "step", "2", "--root", root, "--bin", "ls", "--bin", "/bin/busybox", "--", "/bin/true")
	if r.Code != 0 {
		t.Fatalf("workshop step 2 --root %s = %d\n%s", root, r.Code, r.Stderr)
	}
	// A filesystem without user extended attributes (tmpfs before Linux
	// 6.6: the v2 VM's) keeps no mark: the step says so, and the checks
	// cannot tell.
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(probe, "user.probe", []byte("x"), 0); errors.Is(err, unix.EOPNOTSUPP) {
		if !strings.Contains(r.Stderr, "fsetxattr(") || !strings.Contains(r.Stderr, "= -1 EOPNOTSUPP") || !strings.Contains(r.Stderr, "==> the copies stay unmarked (operation not supported)") {
			t.Errorf("step 2 on a filesystem without user attributes does not say its copies stay unmarked:\n%s", r.Stderr)
		}
		return
	} else if err != nil {
		t.Fatal(err)
	}
	for step, name := range map[int]string{1: "my-new-root/bin/busybox", 2: "my-new-root/"} {
		r, err := Check(step, Options{Dir: dir, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if text := findingsText(r); r.Done() || !strings.Contains(text, name) || !strings.Contains(text, "was copied by workshop's step 2, not by hand") {
			t.Errorf("lab %d check of workshop's copies: report\n%s", step, text)
		}
	}
	// cp over workshop's copy writes into it, which keeps the mark: the
	// hint says to remove it first.
	sh(t, dir, "cp /bin/ls $(readlink -f my-new-root/bin/ls)")
	if r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()}); r.Done() || !strings.Contains(findingsText(r), "remove workshop's first: cp over it keeps its mark): rm my-new-root/") {
		t.Errorf("lab 2 check of ls copied over workshop's: report\n%s", findingsText(r))
	}
	// Removed, then copied by hand: no mark.
	sh(t, dir, "for p in busybox ls; do f=$(readlink -f my-new-root/bin/$p); rm $f; cp /bin/$p $f; done")
	for _, step := range []int{1, 2} {
		r, err := Check(step, Options{Dir: dir, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if text := findingsText(r); strings.Contains(text, "not by hand") {
			t.Errorf("lab %d check of programs copied by hand over workshop's: report\n%s", step, text)
		}
	}
}

// On a filesystem that keeps no extended attribute (ramfs), the first
// copy's fsetxattr fails, is shown failing, and the copies go unmarked: the
// step goes on, and says so.
func TestStep2CopiesUnmarkedWhereNoAttributeIsKept(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("ramfs", dir, "ramfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	root := filepath.Join(dir, "my-new-root")
	r := testbin.Run(t, "", "--no-color", "--state-dir", t.TempDir(), "step", "2", "--root", root, "--", "/bin/true")
	if r.Code != 0 || strings.Count(r.Stderr, "fsetxattr(") != 1 || !strings.Contains(r.Stderr, "= -1 EOPNOTSUPP (Operation not supported)\n==> the copies stay unmarked (operation not supported)") {
		t.Errorf("step 2 into ramfs = %d; want one failed fsetxattr and the note:\n%s", r.Code, r.Stderr)
	}
}
