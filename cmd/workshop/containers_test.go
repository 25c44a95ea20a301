package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// A column of ps stays one row of text: control characters escaped, a
// long command cut between characters.
func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"sleep 1000", 30, "sleep 1000"},
		{"sh -c sleep 1000\n\techo x", 30, `sh -c sleep 1000\n\techo x`},
		{"echo ééééééééé", 8, "echo éé…"},
		{"bad \xff byte", 30, `bad \xff byte`},
		// Exactly as long as the column: whole, not cut a character short.
		{"sleep 1000", 10, "sleep 1000"},
	} {
		if got := shorten(tc.in, tc.max); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// A container recorded by a live workshop but with no first process yet
// is starting, not gone; and ps does not list it.
func TestKillOfAStartingContainer(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	if err := state.New(dir, &state.Run{ID: "0123456789ab", Name: "starting", Step: 6}); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", dir, "kill", "starting")
	if r.Code != 125 || !strings.Contains(r.Stderr, "container 0123456789ab is starting") {
		t.Errorf("kill of a starting container = %d, %q", r.Code, r.Stderr)
	}
	if r := testbin.Run(t, "", "--state-dir", dir, "ps"); r.Code != 0 || strings.Contains(r.Stdout, "starting") {
		t.Errorf("ps = %d, %q; want the starting container left out", r.Code, r.Stdout)
	}
}

// A record that cannot be read is not in ps's table, and ps says so, with
// or without -a and -q: the container it stands for may be running.
func TestPsSaysWhichRecordItCannotRead(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	if err := state.New(dir, &state.Run{ID: "0123456789ab", Name: "damaged", Step: 6}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state.ContainersDir(dir), "0123456789ab", "state.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"ps"}, {"ps", "-a"}, {"ps", "-aq"}} {
		r := testbin.Run(t, "", append([]string{"--state-dir", dir}, args...)...)
		if r.Code != 0 || strings.Contains(r.Stdout, "0123456789ab") || !strings.Contains(r.Stderr, "workshop: container 0123456789ab: its record is unreadable") {
			t.Errorf("workshop %q = %d, stdout %q, stderr %q; want the damaged record said on stderr", args, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// A diff of a container whose run ends as diff reads it (its writable
// layer removed) says it ended, not "no such file or directory".
func TestDiffOfAContainerEndingNow(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	lower := t.TempDir()
	run := &state.Run{ID: "0123456789ab", Name: "ending", Step: 6, Lower: lower,
		Upper: filepath.Join(dir, "containers", "0123456789ab", "upper")} // removed already
	if err := state.New(dir, run); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", dir, "diff", "ending")
	if r.Code != 125 || !strings.Contains(r.Stderr, "container 0123456789ab has ended, and its writable layer was removed with it") {
		t.Errorf("diff of a container whose layer is gone = %d, %q", r.Code, r.Stderr)
	}
	// Its layer there, its image gone (a killed run's, its image removed):
	// not said to have ended.
	orphan := &state.Run{ID: "ba9876543210", Name: "orphan", Step: 6, Lower: filepath.Join(dir, "images", "gone", "rootfs"), Upper: t.TempDir()}
	if err := state.New(dir, orphan); err != nil {
		t.Fatal(err)
	}
	r = testbin.Run(t, "", "--state-dir", dir, "diff", "orphan")
	if r.Code != 125 || !strings.Contains(r.Stderr, "the image container ba9876543210 ran from is gone") {
		t.Errorf("diff of a container whose image is gone = %d, %q", r.Code, r.Stderr)
	}
}

// A container whose root is a copy of its image (no overlayfs) has no
// layer of its changes: diff says so, where it listed nothing with 0.
func TestDiffOfACopiedRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	run := &state.Run{ID: "0123456789ab", Name: "copied", Step: 6, Lower: t.TempDir(), Copied: true,
		Upper: filepath.Join(dir, "containers", "0123456789ab", "upper")}
	if err := state.New(dir, run); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(run.Upper, 0o755); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", dir, "diff", "copied")
	if r.Code != 125 || !strings.Contains(r.Stderr, "container 0123456789ab runs on a full copy of its image (this kernel had no overlayfs)") {
		t.Errorf("diff of a container on a copied root = %d, %q", r.Code, r.Stderr)
	}
}

// Signals as kill(1) and strace write them.
func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "9": unix.SIGKILL, "IOT": unix.SIGABRT, "CLD": unix.SIGCHLD, "POLL": unix.SIGIO,
		"RTMIN": 34, "RTMIN+1": 35, "SIGRTMAX-1": 63, "RTMAX": 64, "SIGRT_2": 34, "34": 34,
		// Spaces around it, as around a size or a count, are dropped.
		" TERM": unix.SIGTERM, "9\n": unix.SIGKILL,
		// The last signal, in each spelling: refused, `workshop kill
		// --signal 64` could not reach a program that waits for it.
		"64": 64, "SIGRT_32": 64, "RT_32": 64, "RTMIN+30": 64, "RT_0": 32,
	} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %d", in, got, err, int(want))
		}
	}
	for _, bad := range []string{"0", "65", "-9", "RTMIN+31", "RTMAX-31", "NOPE", "RTMIN+x", "RTMIN+", "RTMAX-", "T ERM",
		// Below SIGRTMIN: RT_-1 would be 31, SIGSYS, under a real-time name.
		"SIGRT_-1", "RT_-1", "RT_33"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) took it", bad)
		}
	}
	// The refusal quotes what was given, spaces and all.
	if _, err := parseSignal(" NOPE "); err == nil || !strings.Contains(err.Error(), `--signal " NOPE ": not a signal`) {
		t.Errorf(`parseSignal(" NOPE ") = %v`, err)
	}
	for sig, want := range map[unix.Signal]string{32: "SIGRTMIN", 33: "SIGRT_1", 34: "SIGRT_2", 64: "SIGRT_32"} {
		if got := sys.SignalName(sig); got != want {
			t.Errorf("SignalName(%d) = %q, want %s as strace prints it", int(sig), got, want)
		}
	}
}

// ps's IMAGE is the name the container started with while it names the
// container's image, and the image's short id once it moved or went.
func TestImageOf(t *testing.T) {
	store := imagetar.OpenStore(t.TempDir())
	mk := func(content, ref string) imagetar.Image {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "f"), []byte(content), 0o644)
		img, err := store.Pack(context.Background(), sys.Discard(), root, ref)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a := mk("a", "demo:cur")
	r := &state.Run{Step: 6, Image: "demo:cur", Lower: a.Rootfs}
	if got := imageOf(store, r); got != "demo:cur" {
		t.Errorf("imageOf = %q, want demo:cur", got)
	}
	mk("b", "demo:cur") // the name moves to another image
	if got := imageOf(store, r); got != a.ID[:12] {
		t.Errorf("imageOf after the name moved = %q, want %s", got, a.ID[:12])
	}
	if got := imageOf(store, &state.Run{Step: 4}); got != "(step 4 root)" {
		t.Errorf("imageOf of a step 4 run = %q", got)
	}
	// Another workshop adds an image (it holds the store's lock): ps does
	// not wait, and shows the name the container started with.
	release := testbin.LockedFile(t, filepath.Join(store.Dir(), imagetar.LockName))
	defer release()
	done := make(chan string, 1)
	go func() { done <- imageOf(store, r) }()
	select {
	case got := <-done:
		if got != "demo:cur" {
			t.Errorf("imageOf while the store is locked = %q, want the name it started with", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("imageOf waits while another workshop holds the store's lock")
	}
}

// A clean that failed says when it can succeed, by what stopped it: a
// read-only state dir was told "once nothing uses them".
func TestCleanSaysWhenToRetry(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("could not remove x: %w", err) }
	for _, tc := range []struct {
		failed []error
		want   string
	}{
		{[]error{wrap(syscall.EROFS)}, "its filesystem is read-only"},
		{[]error{wrap(syscall.EBUSY), wrap(syscall.EBUSY)}, "once nothing uses them"},
		{[]error{wrap(syscall.EBUSY), wrap(syscall.EIO)}, "once what stopped it is put right"},
	} {
		if got := untilWhen(tc.failed); !strings.Contains(got, tc.want) {
			t.Errorf("untilWhen(%v) = %q, want %q", tc.failed, got, tc.want)
		}
	}
}

// A run whose workshop lives in another PID namespace (unshare -p) records
// that namespace's pids: clean, ps and kill in this one must not take it
// for a killed run (clean killed it and removed its cgroup), nor signal
// the process its pid names here.
func TestARunOfAnotherPIDNamespace(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	run := testbin.Start(t, "", "unshare", "--pid", "--fork", "--mount-proc", testbin.Bin(t), "--state-dir", dir, "full", "run", "--name", "inns",
		"--", "/bin/sh", "-c", "sleep 3; echo $((6*7))")
	run.Stderr.WaitFor(t, `execve("/bin/sh", ["/bin/sh", "-c", `)
	ps := testbin.Run(t, "", "--state-dir", dir, "ps", "-a")
	if ps.Code != 0 || !regexp.MustCompile(`inns +base:latest +\? .*running, its workshop in another PID namespace \(pid:\[\d+\]\)`).MatchString(ps.Stdout) {
		t.Errorf("ps -a = %d, %q; want the run running, its pid ?, its workshop in another PID namespace", ps.Code, ps.Stdout)
	}
	clean := testbin.Run(t, "", "--state-dir", dir, "clean")
	if clean.Code != 0 || !strings.Contains(clean.Stdout, "(inns, step 6): in use by a workshop in another PID namespace (pid:[") {
		t.Errorf("clean = %d, %q %q; want the run left, in use", clean.Code, clean.Stdout, clean.Stderr)
	}
	kill := testbin.Run(t, "", "--state-dir", dir, "kill", "inns")
	if kill.Code != 125 || !strings.Contains(kill.Stderr, "was started by a workshop in another PID namespace") {
		t.Errorf("kill = %d, %q; want a refusal", kill.Code, kill.Stderr)
	}
	if r := run.Wait(); r.Code != 0 || r.Stdout != "42\n" {
		t.Errorf("the run = %d, %q; want it to end by itself, 42\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// -q before ps is workshop's global --quiet (ps has nothing to silence),
// after it ps's own (the ids alone), as docker ps -q.
func TestQuietAfter(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"ps", "-q"}, true},
		{[]string{"ps", "-aq"}, true},
		{[]string{"-q", "ps"}, false},
		{[]string{"--quiet", "ps", "-a"}, false},
		{[]string{"--state-dir", "ps", "ps", "--quiet"}, true},
		{[]string{"--state-dir", "ps", "-q", "ps"}, false},
		{[]string{"-q", "ps", "-q"}, true},
	} {
		if got := quietAfter(tc.args, "ps"); got != tc.want {
			t.Errorf("quietAfter(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
