package lddcopy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/u-root/u-root/pkg/ldd"
	"golang.org/x/sys/unix"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// These tests fill roots in temp dirs: no root privileges needed, since
// nothing is run inside the root (the integration tests do that).

func populate(t *testing.T, root string, bins ...string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Populate(sys.New(&buf, sys.Options{}), root, bins); err != nil {
		t.Fatalf("Populate(%q) = %v; narration:\n%s", bins, err, buf.String())
	}
	return buf.String()
}

// inRoot is where path p is inside root, following the root's symlinks the
// way a process chrooted there would.
func inRoot(t *testing.T, root, p string) string {
	t.Helper()
	dir, err := securejoin.SecureJoin(root, filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, filepath.Base(p))
}

// checkMirrors checks that each host path is in the root as what it is on
// the host: a symlink with the same target, or a file of the same size and
// mode.
func checkMirrors(t *testing.T, root string, paths []string) {
	t.Helper()
	for _, p := range paths {
		host, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		in := inRoot(t, root, p)
		got, err := os.Lstat(in)
		if err != nil {
			t.Errorf("%s is not in the root (%s): %v", p, in, err)
			continue
		}
		switch {
		case host.Mode()&os.ModeSymlink != 0:
			want, _ := os.Readlink(p)
			if have, _ := os.Readlink(in); got.Mode()&os.ModeSymlink == 0 || have != want {
				t.Errorf("%s in the root is %v -> %q, want a symlink to %q as on the host", p, got.Mode(), have, want)
			}
		case got.Size() != host.Size() || got.Mode() != host.Mode() || !got.ModTime().Equal(host.ModTime()):
			t.Errorf("%s in the root: %v %d bytes %v, want %v %d bytes %v", p, got.Mode(), got.Size(), got.ModTime(), host.Mode(), host.Size(), host.ModTime())
		}
	}
}

func interpOf(t *testing.T, p string) string {
	interp, err := elfinterp.Of(p)
	if err != nil || interp == "" {
		t.Fatalf("%s has no PT_INTERP (%v)", p, err)
	}
	return interp
}

func TestPopulateBash(t *testing.T) {
	root := filepath.Join(t.TempDir(), "my-new-root")
	out := populate(t, root, "/bin/bash")
	progs, err := Resolve([]string{"/bin/bash"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(progs)
	if err != nil {
		t.Fatal(err)
	}
	checkMirrors(t, root, files)

	// The ELF interpreter is there, and so is every link of each chain:
	// the loader finds libtinfo.so.6, a link to the real file.
	interp := interpOf(t, "/bin/bash")
	if _, err := os.Stat(inRoot(t, root, interp)); err != nil {
		t.Errorf("the ELF interpreter %s is not in the root: %v", interp, err)
	}
	links := 0
	for _, f := range files {
		if fi, _ := os.Lstat(f); fi.Mode()&os.ModeSymlink != 0 {
			links++
		}
	}
	if links == 0 {
		t.Errorf("no symlink among %v: this host should have library links (libtinfo.so.6 -> …)", files)
	}

	// ldd's list, sorted, with the interpreter last.
	for _, l := range progs[0].Libs {
		if !strings.Contains(out, "\t"+filepath.Base(l)+" => "+l+"\n") {
			t.Errorf("narration lacks the ldd line for %s:\n%s", l, out)
		}
	}
	if !strings.Contains(out, "\t"+interp+" (the ELF interpreter") {
		t.Errorf("narration does not name the interpreter %s:\n%s", interp, out)
	}
	// Each file is copied once, and every copy is shown as its syscalls.
	copies := regexp.MustCompile(`openat\(AT_FDCWD, "([^"]+)", O_WRONLY\|O_CREAT`).FindAllStringSubmatch(out, -1)
	seen := map[string]bool{}
	for _, c := range copies {
		if seen[c[1]] {
			t.Errorf("%s was copied twice", c[1])
		}
		seen[c[1]] = true
	}
	if strings.Count(out, "copy_file_range(")+strings.Count(out, "read(") == 0 || len(copies) == 0 {
		t.Errorf("no copy narrated:\n%s", out)
	}
}

func TestPopulateTwiceCopiesNothing(t *testing.T) {
	root := t.TempDir()
	populate(t, root, "/bin/bash", "ls")
	again := populate(t, root, "/bin/bash", "ls")
	// The root is opened only to be locked (lockRoot), not a file in it.
	lock := `openat(AT_FDCWD, "` + root + `", O_RDONLY|O_DIRECTORY|O_CLOEXEC)`
	if strings.Count(again, "openat(") != strings.Count(again, lock) {
		t.Errorf("the second Populate opened more than the root, for its lock:\n%s", again)
	}
	for _, call := range []string{"copy_file_range(", "write(", "mkdirat(", "symlinkat(", "unlinkat(", "renameat("} {
		if strings.Contains(again, call) {
			t.Errorf("the second Populate made %s calls:\n%s", call, again)
		}
	}
	if !strings.Contains(again, "nothing to copy: all") || !strings.Contains(again, "already up to date") {
		t.Errorf("the second Populate does not say everything is up to date:\n%s", again)
	}
}

// Two programs share libc: it is copied once.
func TestSharedLibraryCopiedOnce(t *testing.T) {
	root := t.TempDir()
	out := populate(t, root, "/bin/bash", "ls", "cat")
	libc := regexp.MustCompile(`renameat\(AT_FDCWD, "[^"]*/\.libc\.so\.6\.workshop-copy", AT_FDCWD, "[^"]*/libc\.so\.6"\) = 0`).FindAllString(out, -1)
	if len(libc) != 1 {
		t.Errorf("libc.so.6 copied %d times, want once:\n%s", len(libc), out)
	}
}

func TestStaticBinary(t *testing.T) {
	busybox := testbin.NeedTool(t, "busybox")
	if interp, _ := elfinterp.Of(busybox); interp != "" {
		// CI installs busybox-static (scripts/install-deps): a dynamic one
		// there means the setup is wrong, and this test would hide it.
		if testbin.InCI() {
			t.Fatalf("%s is dynamic (interp %s), and scripts/install-deps must install busybox-static", busybox, interp)
		}
		t.Skipf("%s is dynamic here (interp %s); install busybox-static", busybox, interp)
	}
	root := t.TempDir()
	out := populate(t, root, busybox)
	if !strings.Contains(out, busybox+":\n\tnot a dynamic executable\n") {
		t.Errorf("narration does not say busybox is static:\n%s", out)
	}
	checkMirrors(t, root, []string{busybox})
	if n := strings.Count(out, "O_WRONLY|O_CREAT"); n != 1 {
		t.Errorf("a static binary made %d files in the root, want 1 (itself):\n%s", n, out)
	}
}

func TestScriptBringsItsInterpreter(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	envScript := filepath.Join(dir, "hello-env")
	if err := os.WriteFile(envScript, []byte("#!/usr/bin/env -S bash -e\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	out := populate(t, root, script, envScript)
	progs, err := Resolve([]string{script, envScript})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range progs {
		names = append(names, p.Path)
	}
	for _, want := range []string{script, "/bin/sh", envScript, "/usr/bin/env"} {
		if !contains(names, want) {
			t.Errorf("Resolve(scripts) = %v, lacks %s", names, want)
		}
	}
	bash, _ := Lookup("bash")
	if !contains(names, bash) {
		t.Errorf("Resolve(#!/usr/bin/env -S bash) = %v, lacks bash (%s)", names, bash)
	}
	files, err := Files(progs)
	if err != nil {
		t.Fatal(err)
	}
	checkMirrors(t, root, files)
	// /bin/sh is a link (to dash) on Debian: the link and what it names.
	if target, err := os.Readlink("/bin/sh"); err == nil {
		if have, _ := os.Readlink(inRoot(t, root, "/bin/sh")); have != target {
			t.Errorf("/bin/sh in the root -> %q, want -> %q", have, target)
		}
	}
	if !strings.Contains(out, "a script: its #! line names /bin/sh") {
		t.Errorf("narration does not explain the script:\n%s", out)
	}
}

// A script whose interpreter this machine lacks is copied, and said: its
// execve will fail with ENOENT (it used to fail the whole copy).
func TestScriptWithAMissingInterpreter(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "old.sh")
	if err := os.WriteFile(script, []byte("#!/nonexistent/interp\necho never\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	out := populate(t, root, script)
	if _, err := os.Lstat(filepath.Join(root, script)); err != nil {
		t.Errorf("the script was not copied: %v", err)
	}
	if !strings.Contains(out, "its #! line needs /nonexistent/interp, which this machine does not have") {
		t.Errorf("narration does not say the interpreter is missing:\n%s", out)
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestNotOnTheHost(t *testing.T) {
	root := t.TempDir()
	err := Populate(sys.Discard(), root, []string{"/bin/bash", "no-such-program-anywhere"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Name != "no-such-program-anywhere" {
		t.Fatalf("Populate(missing) = %v, want a NotFoundError naming it", err)
	}
	if err.Error() != "no-such-program-anywhere: no such program on the host" {
		t.Errorf("error = %q", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a failed Populate left %v in the root", entries)
	}
	if _, err := Lookup("/etc"); err == nil {
		t.Errorf("Lookup(/etc) = nil error, want one: a directory is not a program")
	}
}

// A symlink planted in the root, pointing out of it, is followed inside the
// root, as the chroot will follow it: nothing is written outside.
func TestPlantedSymlinkStaysInside(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// root/usr -> /<victim> (absolute: outside, seen from the host)
	if err := os.Symlink(victim, filepath.Join(root, "usr")); err != nil {
		t.Fatal(err)
	}
	out := populate(t, root, "/bin/bash")
	if entries, _ := os.ReadDir(victim); len(entries) != 0 {
		t.Errorf("Populate wrote outside the root, into %s: %v", victim, entries)
	}
	if _, err := os.Stat(inRoot(t, root, "/bin/bash")); err != nil {
		t.Errorf("bash is not in the root: %v\n%s", err, out)
	}
	if !strings.HasPrefix(inRoot(t, root, "/bin/bash"), root+"/") {
		t.Errorf("bash resolved outside the root")
	}
}

func TestFileInPlaceOfALinkIsReplacedNotWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("do not touch"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	populate(t, root, "/bin/bash")
	bash := inRoot(t, root, "/bin/bash")
	os.Remove(bash)
	if err := os.Symlink(outside, bash); err != nil {
		t.Fatal(err)
	}
	out := populate(t, root, "/bin/bash")
	if b, _ := os.ReadFile(outside); string(b) != "do not touch" {
		t.Errorf("Populate wrote through a symlink in the root to %s", outside)
	}
	if !strings.Contains(out, `, AT_FDCWD, "`+bash+`") = 0`) {
		t.Errorf("the link in bash's place was not replaced (renameat onto it):\n%s", out)
	}
	if fi, err := os.Lstat(bash); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("bash in the root is %v (%v), want a regular file", fi, err)
	}
	checkMirrors(t, root, []string{"/bin/bash"})
}

// Where copy_file_range cannot copy (between some filesystems), the copy is
// read and write, each call narrated.
func TestReadWriteFallback(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	data := bytes.Repeat([]byte("0123456789"), 150000) // 1.5 MB: two reads
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var buf bytes.Buffer
	c := newCopier(sys.New(&buf, sys.Options{}), dir)
	if err := c.readWrite(int(in.Fd()), int(out.Fd())); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Errorf("the copy has %d bytes, want the %d of the source", len(got), len(data))
	}
	n := buf.String()
	if strings.Count(n, "read(") != 3 || strings.Count(n, "write(") != 2 || !strings.Contains(n, `, "", 1048576) = 0`) {
		t.Errorf("want 2 reads and writes, then a read of 0 bytes, narrated:\n%s", n)
	}
}

// Files lists what u-root's ldd.FList lists for the same programs (their
// libraries and interpreter, with every symlink of each chain), without
// running the loader a second time.
func TestFilesAgreesWithFList(t *testing.T) {
	var names []string
	for _, n := range []string{"bash", "ls", "cat", "mount", "ps", "id"} {
		if p, err := Lookup(n); err == nil {
			names = append(names, p)
		}
	}
	progs, err := Resolve(names)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(progs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var dynamic []string
	for _, p := range progs {
		want[p.Path] = true
		for _, a := range p.Also {
			want[a] = true
		}
		if !p.Script && !p.Static() {
			dynamic = append(dynamic, p.Path)
		}
	}
	deps, err := ldd.FList(dynamic...)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		want[filepath.Clean(d)] = true
	}
	got := map[string]bool{}
	for _, f := range files {
		got[f] = true
		if !want[f] {
			t.Errorf("Files lists %s, which ldd.FList does not", f)
		}
	}
	for f := range want {
		if !got[f] {
			t.Errorf("Files lacks %s, which ldd.FList lists", f)
		}
	}
	if len(dynamic) == 0 || len(files) <= len(progs) {
		t.Fatalf("no dynamic program among %v, or no library listed (%d files): the comparison proves nothing", names, len(files))
	}
}

// A copy stopped halfway (Ctrl-C, kill -9, a full disk) leaves no half
// program at its name: the copy is written beside it and renamed into
// place whole. A leftover of a killed copy is taken over by the next one.
func TestCopyIsRenamedIntoPlaceWhole(t *testing.T) {
	root := t.TempDir()
	out := populate(t, root, "/bin/bash")
	bash := inRoot(t, root, "/bin/bash")
	tmp := filepath.Join(filepath.Dir(bash), ".bash.workshop-copy")
	opened := strings.Index(out, `openat(AT_FDCWD, "`+tmp+`", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`)
	renamed := strings.Index(out, `renameat(AT_FDCWD, "`+tmp+`", AT_FDCWD, "`+bash+`") = 0`)
	if opened < 0 || renamed < opened || strings.Contains(out, `openat(AT_FDCWD, "`+bash+`", O_WRONLY`) {
		t.Errorf("bash was not written beside its name and renamed into place:\n%s", out)
	}
	// What a killed copy leaves: half of bash beside it, and no bash.
	os.Remove(bash)
	if err := os.WriteFile(tmp, []byte("half"), 0o755); err != nil {
		t.Fatal(err)
	}
	populate(t, root, "/bin/bash")
	if _, err := os.Lstat(tmp); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the next copy", tmp)
	}
	checkMirrors(t, root, []string{"/bin/bash"})
}

// A root unpacked from an image may hold anything at the name a copy is
// written under: a device node there (an image may carry one, and
// unpacking as real root keeps it) was opened and written into, a whole
// host program into what could be the host's disk; a FIFO made the copy
// wait for a reader for ever. Each is removed, never opened. (1:3 here,
// /dev/null's numbers: harmless if written.)
func TestCopyNeverOpensWhatTheRootPlanted(t *testing.T) {
	for _, plant := range []struct {
		name string
		make func(path string) error
	}{
		{"a device node", func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) }},
		{"a FIFO", func(p string) error { return unix.Mkfifo(p, 0o666) }},
	} {
		t.Run(plant.name, func(t *testing.T) {
			root := t.TempDir()
			bash := inRoot(t, root, "/bin/bash")
			if err := os.MkdirAll(filepath.Dir(bash), 0o755); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(filepath.Dir(bash), ".bash.workshop-copy")
			if err := plant.make(tmp); err != nil {
				t.Fatal(err)
			}
			stop := testbin.UnblockFIFO(tmp)
			out := populate(t, root, "/bin/bash")
			if stop() {
				t.Errorf("the copy opened the planted FIFO, and waited for a reader")
			}
			if !strings.Contains(out, `unlinkat(AT_FDCWD, "`+tmp+`", 0) = 0`) {
				t.Errorf("the planted %s was not removed:\n%s", plant.name, out)
			}
			checkMirrors(t, root, []string{"/bin/bash"})
		})
	}
}

// A directory the root needs gets the host's mode, though the umask cut
// mkdir's: a sticky, world-writable one (as /tmp is) stays 01777.
func TestDirectoryModeNotCutByTheUmask(t *testing.T) {
	root := t.TempDir()
	sticky := filepath.Join(t.TempDir(), "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o1777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(sticky, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	out := populate(t, root, script)
	got, err := os.Stat(filepath.Join(root, sticky))
	if err != nil || got.Mode() != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("%s in the root is %v (%v), want the host's drwxrwxrwt\n%s", sticky, got.Mode(), err, out)
	}
	if !strings.Contains(out, `fchmodat(AT_FDCWD, "`+filepath.Join(root, sticky)+`", 01777) = 0`) {
		t.Errorf("the mode put back is not narrated:\n%s", out)
	}
}

// Two steps that fill the same root at once (step 3 and step 4 in two
// terminals) take turns: each copy is whole, and neither fails. They used
// to write the same .NAME.workshop-copy and rename each other's copies
// away ("rename …: no such file or directory"), or half copies into place.
func TestConcurrentFillsOfOneRootTakeTurns(t *testing.T) {
	bins := []string{"/bin/bash", "/bin/ls", "/bin/cat"}
	for round := range 6 {
		root := filepath.Join(t.TempDir(), "root")
		errs := make(chan error, 2)
		outs := make([]bytes.Buffer, 2)
		for i := range 2 {
			go func() { errs <- Populate(sys.New(&outs[i], sys.Options{}), root, bins) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: one of two fills of the same root = %v", round, err)
			}
		}
		checkMirrors(t, root, bins)
		if !strings.Contains(outs[0].String()+outs[1].String(), "flock(") {
			t.Fatalf("round %d: no flock narrated:\n%s", round, outs[0].String())
		}
	}
}

// The loader runs that u-root's ldd made are told of once they happened:
// one execve per dynamic program, with the loader, --list and the program.
func TestLoaderRunsAreReported(t *testing.T) {
	out := populate(t, t.TempDir(), "/bin/bash", "/bin/ls")
	progs, err := Resolve([]string{"/bin/bash", "/bin/ls"})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`==> ldd ran the loader in 2 child processes (Go's os/exec made their clone and execve): execve(%q, [%q, "--list", "/bin/bash"], …) = 0, and the same for /bin/ls`, progs[0].Interp, progs[0].Interp)
	if !strings.Contains(out, want) {
		t.Errorf("narration lacks\n%s\n:\n%s", want, out)
	}
}

// A script saved with Windows line ends: its #! line names "/bin/sh\r",
// which the kernel looks for and no machine has. Said so, with the cure;
// it used to be read as /bin/sh ("which comes along"), and the run then
// failed with ENOENT unexplained.
func TestScriptWithWindowsLineEnds(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "crlf.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\r\necho x\r\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := populate(t, filepath.Join(dir, "root"), script)
	if !strings.Contains(out, `its #! line ends in a carriage return (the file was saved with Windows line ends), so the kernel looks for the interpreter "/bin/sh\r"`) ||
		!strings.Contains(out, "dos2unix "+script) {
		t.Errorf("narration does not say the #! line ends in a carriage return:\n%s", out)
	}
}

// With no PATH at all (env -i), a command is looked for on the host where a
// container looks for it, not reported missing.
func TestLookupWithoutPATH(t *testing.T) {
	t.Setenv("PATH", "")
	got, err := Lookup("sh")
	if err != nil || !strings.HasSuffix(got, "/sh") {
		t.Errorf("Lookup(sh) with no PATH = %q, %v; want the host's sh", got, err)
	}
	if _, err := Lookup("no-such-program-anywhere"); err == nil {
		t.Errorf("Lookup of a missing program with no PATH succeeded")
	}
}

// The carriage return of a Windows line end in an env script goes to env,
// which looks for "sh\r" and exits 127; in an argument (#!/bin/sh -e\r) the
// interpreter is found, and gets "-e\r". Both said.
func TestScriptWithWindowsLineEndsThroughEnvOrAnArgument(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env.sh")
	arg := filepath.Join(dir, "arg.sh")
	os.WriteFile(env, []byte("#!/usr/bin/env sh\r\necho x\r\n"), 0o755)
	os.WriteFile(arg, []byte("#!/bin/sh -e\r\necho x\r\n"), 0o755)
	out := populate(t, filepath.Join(dir, "root"), env, arg)
	for _, want := range []string{
		`so env looks for "sh\r", which no machine has, and exits 127`,
		"its #! line names /bin/sh, which comes along; but the line ends in a carriage return",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("narration lacks %q:\n%s", want, out)
		}
	}
}

// A root whose lib is a symlink loop (lib -> lib2 -> lib) cannot take the
// libraries: one sentence that names the loop, not securejoin's own.
func TestSymlinkLoopInTheRoot(t *testing.T) {
	root := t.TempDir()
	for link, target := range map[string]string{"lib": "lib2", "lib2": "lib"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Lstat("/lib"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("this test needs a host whose /lib is a symlink (merged /usr), as Debian 12's: %v", err)
	}
	err := Populate(sys.Discard(), root, []string{"/bin/bash"})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "lib")+" is a symlink that leads, inside the root, back to itself or through too many other links (a loop)") {
		t.Errorf("Populate into a root with a symlink loop = %v, want the sentence", err)
	}
}
