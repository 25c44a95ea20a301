package imagetar_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// Ctrl-C (or SIGTERM) while workshop packs or unpacks: it stops, removes
// what it half made, says so in one sentence and exits 128+n, as a process
// killed by the signal would. To interrupt it at a known point, with no
// timing, the test holds a lease on a file workshop is about to open: the
// open blocks until the lease goes (fcntl(2), F_SETLEASE).

// lease is a write lease on a file: another process's open(2) of it blocks
// until the lease is released, and meanwhile the holder sees the lease
// being broken (F_GETLEASE reads the type it is asked to go down to).
type lease struct {
	t *testing.T
	f *os.File
}

func takeLease(t *testing.T, p string) *lease {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		f.Close()
		t.Fatalf("fcntl(%s, F_SETLEASE, F_WRLCK): %v", p, err)
	}
	l := &lease{t: t, f: f}
	t.Cleanup(l.release)
	return l
}

// waitOpened waits until some process is blocked opening the file, and
// fails the test if w ends first or a minute goes by (the kernel itself
// breaks a lease after /proc/sys/fs/lease-break-time, 45 s by default).
func (l *lease) waitOpened(w *testbin.Running) {
	l.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		typ, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
		if err != nil {
			l.t.Fatalf("fcntl(%s, F_GETLEASE): %v", l.f.Name(), err)
		}
		if typ != unix.F_WRLCK {
			return
		}
		if w.Stderr.Ended() {
			l.t.Fatalf("workshop ended before it opened %s; stderr:\n%s", l.f.Name(), w.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.t.Fatalf("after a minute, workshop had not opened %s; stderr:\n%s", l.f.Name(), w.Stderr.String())
}

func (l *lease) release() {
	if l.f == nil {
		return
	}
	unix.FcntlInt(l.f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
	l.f.Close()
	l.f = nil
}

// interruptAt runs workshop until it blocks opening leased, sends it sig,
// waits until it said it is stopping, lets the open go on, and returns the
// exit status and stderr.
func interruptAt(t *testing.T, leased string, sig syscall.Signal, args ...string) (int, string) {
	t.Helper()
	l := takeLease(t, leased)
	w := testbin.Start(t, "", testbin.Bin(t), args...)
	w.Stdin.Close()
	l.waitOpened(w)
	w.Signal(sig)
	w.Stderr.WaitFor(t, "stopping, and removing what was half made")
	l.release()
	r := w.Wait()
	return r.Code, r.Stderr
}

// lastLine is the sentence workshop ends with.
func lastLine(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	return lines[len(lines)-1]
}

// rootWithLeasable is a small root with a file, etc/leased, a pack opens
// early (entries are packed in lexical order).
func rootWithLeasable(t *testing.T) (root, leased string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "my-new-root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	leased = filepath.Join(root, "etc", "leased")
	if err := os.WriteFile(leased, []byte("workshop opens this while it packs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, leased
}

func TestStep5Interrupted(t *testing.T) {
	testbin.NeedRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sys.SignalName(sig), func(t *testing.T) {
			state := t.TempDir()
			root, leased := rootWithLeasable(t)
			// Step 5 first fills the root with bash and ls (step 2), then
			// packs it the walkthrough's way: that pack opens etc/leased.
			code, stderr := interruptAt(t, leased, sig, "--state-dir", state, "step", "5", "--root", root, "--", "/bin/true")
			half := filepath.Join(state, "step5", "walkthrough.tar")
			want := fmt.Sprintf("workshop: interrupted by %s: the half-made %s was removed", sys.SignalName(sig), half)
			if code != 128+int(sig) || lastLine(stderr) != want || strings.Contains(stderr, "context canceled") {
				t.Errorf("step 5 interrupted by %s = %d, stderr:\n%s\nwant %d and the last line %q", sys.SignalName(sig), code, stderr, 128+int(sig), want)
			}
			entries, _ := os.ReadDir(filepath.Join(state, "step5"))
			for _, e := range entries {
				t.Errorf("the interrupted step 5 left %s in %s/step5", e.Name(), state)
			}
		})
	}
}

func TestImagePackInterrupted(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root, leased := rootWithLeasable(t)
	ws := func(args ...string) testbin.Result {
		return testbin.Run(t, "", append([]string{"--state-dir", state}, args...)...)
	}
	// demo:1 is in the store; the interrupted pack would have moved it to
	// another image (etc/other differs).
	if r := ws("image", "pack", root, "demo:1"); r.Code != 0 {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "other"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := ws("image", "ls").Stdout
	index := filepath.Join(state, "images", "index.json")
	indexBefore, _ := os.ReadFile(index)

	code, stderr := interruptAt(t, leased, syscall.SIGINT, "--state-dir", state, "image", "pack", root, "demo:1")
	want := "workshop: interrupted by SIGINT: the half-made image was removed; the store is as it was"
	if code != 130 || lastLine(stderr) != want {
		t.Errorf("image pack interrupted = %d, stderr:\n%s\nwant 130 and the last line %q", code, stderr, want)
	}
	if left := newEntries(t, state); len(left) > 0 {
		t.Errorf("the interrupted pack left %q in the store", left)
	}
	if indexAfter, _ := os.ReadFile(index); string(indexAfter) != string(indexBefore) {
		t.Errorf("the interrupted pack changed index.json:\n%s\nwas:\n%s", indexAfter, indexBefore)
	}
	if after := ws("image", "ls").Stdout; after != before {
		t.Errorf("image ls after the interrupted pack:\n%s\nbefore it:\n%s", after, before)
	}
}

func TestImageUnpackInterrupted(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root, _ := rootWithLeasable(t)
	if r := testbin.Run(t, "", "--state-dir", state, "image", "pack", root, "demo"); r.Code != 0 {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
	tars, _ := filepath.Glob(filepath.Join(state, "images", "*", "rootfs.tar"))
	if len(tars) != 1 {
		t.Fatalf("the store holds %q, want one rootfs.tar", tars)
	}
	parent := t.TempDir()
	dest := filepath.Join(parent, "demo-root")
	// The unpack opens the image's tar first, then makes its temporary
	// root beside dest, and finds the signal at the first entry.
	code, stderr := interruptAt(t, tars[0], syscall.SIGTERM, "--state-dir", state, "image", "unpack", "demo", dest)
	want := "workshop: interrupted by SIGTERM: the half-unpacked root was removed, and " + dest + " was not made"
	if code != 143 || lastLine(stderr) != want {
		t.Errorf("image unpack interrupted = %d, stderr:\n%s\nwant 143 and the last line %q", code, stderr, want)
	}
	if !strings.Contains(stderr, "mkdirat(AT_FDCWD, \""+filepath.Join(parent, ".demo-root.unpack-")) {
		t.Errorf("the unpack made no temporary root before it stopped, so this test checked nothing:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("the interrupted unpack left %v in %s", entries, parent)
	}
}

// Two step 5s in one state dir: the second is refused at once, with a
// sentence, and the first one's command goes on in its container-root. The
// second used to rewrite the tars and remove that root under the running
// command (an adversary's pass: "ls: command not found", and 127).
func TestStep5OneAtATime(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	first := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "5", "--", "/bin/bash", "-c", "read x; ls /bin/ls")
	first.Stderr.WaitFor(t, `execve("/bin/bash", ["/bin/bash", "-c", "read x; ls /bin/ls"], …) = 0`)

	second := testbin.Run(t, "", "--no-color", "--state-dir", state, "step", "5", "--", "/bin/true")
	want := "workshop: step 5: another workshop step 5 is running in this state dir, and its command may still be running in " + filepath.Join(state, "step5", "container-root")
	if second.Code != 125 || !strings.HasPrefix(lastLine(second.Stderr), want) {
		t.Errorf("a second step 5 while one runs = %d, stdout %q, stderr:\n%s\nwant 125 and a last line starting %q", second.Code, second.Stdout, second.Stderr, want)
	}
	if !strings.Contains(second.Stderr, "flock(") || !strings.Contains(second.Stderr, "= -1 EAGAIN") {
		t.Errorf("the refused step 5 does not show its flock:\n%s", second.Stderr)
	}
	// Refused before anything else: /bin/true, not in the root yet, is not
	// copied into the root the first one packed.
	if strings.Contains(second.Stderr, "workshop-copy") {
		t.Errorf("the refused step 5 copied into the root first:\n%s", second.Stderr)
	}

	r := first.Wait() // its read ends: stdin is closed
	if r.Code != 0 || !strings.Contains(r.Stdout, "/bin/ls") {
		t.Errorf("the first step 5, with a second refused meanwhile = %d, stdout %q, stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// Under --quiet, a walkthrough chroot that fails otherwise than the lesson
// says (no CAP_SYS_CHROOT here) names why: its own sentence, discarded as
// the expected failure's would be, was the only cause.
func TestStep5QuietSaysWhyTheWalkthroughsChrootFailed(t *testing.T) {
	testbin.NeedRoot(t)
	setpriv := testbin.NeedTool(t, "setpriv")
	cmd := exec.Command(setpriv, "--bounding-set=-all", "--inh-caps=-all", testbin.Bin(t), "-q", "--state-dir", t.TempDir(), "step", "5", "--", "/bin/true")
	r := testbin.RunCmd(t, cmd, time.Minute)
	if r.Code != 125 || !strings.Contains(lastLine(r.Stderr), "where the lesson expects 127 (no /bin/bash there): setting up the container: chroot ") || !strings.Contains(r.Stderr, "operation not permitted") {
		t.Errorf("step 5 -q without CAP_SYS_CHROOT = %d, stderr %q; want 125 and the chroot's failure named", r.Code, r.Stderr)
	}
}
