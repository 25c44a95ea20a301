package state

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRecordListLoadForget(t *testing.T) {
	dir := t.TempDir()
	a := &Run{ID: "aaaa11112222", Name: "first", Step: 6, Command: []string{"/bin/true"}, Created: time.Unix(100, 0)}
	b := &Run{ID: "bbbb11112222", Name: "second", Step: 6, Created: time.Unix(200, 0)}
	for _, r := range []*Run{b, a} {
		if err := New(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := List(dir)
	if err != nil || len(runs) != 2 || runs[0].ID != a.ID {
		t.Fatalf("List = %v, %v; want both, oldest first", runs, err)
	}
	if !runs[0].Owned() {
		t.Errorf("a run recorded by this live process is not Owned")
	}
	for _, ref := range []string{"aaaa", "first", a.ID} {
		if r, err := Load(dir, ref); err != nil || r.ID != a.ID {
			t.Errorf("Load(%q) = %v, %v; want %s", ref, r, err, a.ID)
		}
	}
	if _, err := Load(dir, "zzzz"); err == nil {
		t.Errorf("Load of an unknown id succeeded")
	}
	r, _ := Load(dir, "first")
	a.LetGo()               // as its workshop's end does
	r.WorkshopPid = 1 << 22 // no such pid
	if r.Owned() {
		t.Errorf("a run whose owner is gone is Owned")
	}
	if err := r.Forget(); err != nil {
		t.Fatal(err)
	}
	if runs, _ := List(dir); len(runs) != 1 {
		t.Errorf("after Forget, List has %d runs, want 1", len(runs))
	}
	// New and Forget leave no directory of theirs behind: only b's.
	entries, _ := os.ReadDir(ContainersDir(dir))
	if len(entries) != 1 || entries[0].Name() != b.ID {
		t.Errorf("the containers directory holds %v, want only %s", entries, b.ID)
	}
}

// A directory being made or removed is no run, even with a record in it:
// List skips it, and a directory named by an id always holds its record.
func TestListSkipsDirsBeingMadeOrRemoved(t *testing.T) {
	dir := t.TempDir()
	r := &Run{ID: "cccc11112222", Name: "c", Step: 6}
	if err := New(dir, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ContainersDir(dir), r.ID, "state.json")); err != nil {
		t.Fatalf("New made no record under the id: %v", err)
	}
	for _, prefix := range []string{NewPrefix, GonePrefix} {
		if err := os.Rename(filepath.Join(ContainersDir(dir), r.ID), filepath.Join(ContainersDir(dir), prefix+r.ID)); err != nil {
			t.Fatal(err)
		}
		if runs, err := List(dir); err != nil || len(runs) != 0 {
			t.Errorf("List with a %s directory = %v, %v; want no run", prefix, runs, err)
		}
		os.Rename(filepath.Join(ContainersDir(dir), prefix+r.ID), filepath.Join(ContainersDir(dir), r.ID))
	}
}

func TestParentPid(t *testing.T) {
	if got, want := ParentPid(os.Getpid()), os.Getppid(); got != want {
		t.Errorf("ParentPid(self) = %d, want %d", got, want)
	}
	if got := ParentPid(1 << 22); got != 0 {
		t.Errorf("ParentPid(no such pid) = %d, want 0", got)
	}
	// A command name with a ')' and a space in it (/proc/PID/stat gives
	// it as "(x) y)"): the fields are counted from the name's last ')'.
	// Counted from its first, the parent would be read off the wrong
	// field, and a running container taken for one ending (its first
	// process not its workshop's child).
	sleep, err := exec.LookPath("sleep") // coreutils: on every machine the tests run on
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), "x) y")
	if err := os.WriteFile(odd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(odd, "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		child.Process.Kill()
		child.Wait()
	}()
	if got := ParentPid(child.Process.Pid); got != os.Getpid() {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child.Process.Pid))
		t.Errorf("ParentPid of a process named \"x) y\" = %d, want %d (its stat: %q)", got, os.Getpid(), stat)
	}
}

func TestLoadRefusesEmptyAndAmbiguousRefs(t *testing.T) {
	dir := t.TempDir()
	for i, id := range []string{"aaaa00000001", "aaaa00000002"} {
		if err := New(dir, &Run{ID: id, Name: "same", Created: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"", "same", "aaaa"} {
		if r, err := Load(dir, ref); err == nil {
			t.Errorf("Load(%q) = %s, want an error (empty or ambiguous)", ref, r.ID)
		}
	}
	if r, err := Load(dir, "aaaa00000002"); err != nil || r.ID != "aaaa00000002" {
		t.Errorf("Load(full id) = %v, %v", r, err)
	}
}

// A name is found before an id prefix (Docker's order): a container named
// "5999" is reached by that name even when another's id starts with 5999.
func TestLoadNameBeforeIDPrefix(t *testing.T) {
	dir := t.TempDir()
	for i, r := range []*Run{{ID: "5999b1c1872e", Name: "changer"}, {ID: "0123456789ab", Name: "5999"}} {
		r.Created = time.Unix(int64(i), 0)
		if err := New(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	for ref, want := range map[string]string{"5999": "0123456789ab", "5999b": "5999b1c1872e", "changer": "5999b1c1872e", "0123": "0123456789ab"} {
		if r, err := Load(dir, ref); err != nil || r.ID != want {
			t.Errorf("Load(%q) = %v, %v; want %s", ref, r, err, want)
		}
	}
}

// Catches reads SigCgt: this test process, a Go program, catches SIGURG (its
// scheduler's preemption signal) and never SIGKILL, which nothing can catch.
func TestCatches(t *testing.T) {
	pid := os.Getpid()
	if caught, ok := Catches(pid, int(syscall.SIGURG)); !ok || !caught {
		t.Errorf("Catches(self, SIGURG) = %v, %v; want true, true (Go's preemption signal)", caught, ok)
	}
	if caught, ok := Catches(pid, int(syscall.SIGKILL)); !ok || caught {
		t.Errorf("Catches(self, SIGKILL) = %v, %v; want false, true", caught, ok)
	}
	// 64, the last real-time signal, is the last bit of SigCgt: refused
	// as out of range, kill would not know whether a container catches
	// signal 64.
	if _, ok := Catches(pid, 64); !ok {
		t.Errorf("Catches(self, 64) does not know; want it read from SigCgt")
	}
	if _, ok := Catches(1<<30, int(syscall.SIGTERM)); ok {
		t.Error("Catches of a pid that does not exist says it knows")
	}
}

// SignalPending reads ShdPnd: a stopped process takes no signal but
// SIGKILL and SIGCONT, and one sent to it waits there.
func TestSignalPending(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pid := sleep.Process.Pid
	if pending, ok := SignalPending(pid, int(syscall.SIGUSR2)); !ok || pending {
		t.Fatalf("SignalPending(sleep, SIGUSR2) before any = %v, %v; want false, true", pending, ok)
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if st, _ := StatusField(pid, "State"); strings.HasPrefix(st, "T") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sleep never stopped")
		}
	}
	syscall.Kill(pid, syscall.SIGUSR2)
	if pending, ok := SignalPending(pid, int(syscall.SIGUSR2)); !ok || !pending {
		t.Errorf("SignalPending(stopped sleep, SIGUSR2) once sent = %v, %v; want true, true", pending, ok)
	}
	if pending, _ := SignalPending(pid, int(syscall.SIGUSR1)); pending {
		t.Error("SignalPending(stopped sleep, SIGUSR1), never sent, = true")
	}
	if _, ok := SignalPending(1<<30, int(syscall.SIGTERM)); ok {
		t.Error("SignalPending of a pid that does not exist says it knows")
	}
}

// The mark `workshop kill` leaves is read back by the run's own workshop,
// which holds its record from before the mark was written.
func TestMarkKill(t *testing.T) {
	dir := t.TempDir()
	own := &Run{ID: "cccc11112222", Name: "marked", Step: 6}
	if err := New(dir, own); err != nil {
		t.Fatal(err)
	}
	if own.KillSent(int(syscall.SIGKILL)) {
		t.Errorf("KillSent(SIGKILL) of a run nobody signalled = true")
	}
	other, err := Load(dir, "marked")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.MarkKill(int(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	if !own.KillSent(int(syscall.SIGKILL)) || own.KillSent(int(syscall.SIGTERM)) {
		t.Errorf("after MarkKill(SIGKILL): KillSent(SIGKILL) = %v, KillSent(SIGTERM) = %v; want true, false", own.KillSent(int(syscall.SIGKILL)), own.KillSent(int(syscall.SIGTERM)))
	}
	// A second kill, sent at the same moment, and its mark written
	// last: the SIGKILL is still known (the run would have blamed
	// another cause for its 137).
	if err := other.MarkKill(int(syscall.SIGTERM)); err != nil {
		t.Fatal(err)
	}
	if !own.KillSent(int(syscall.SIGKILL)) || !own.KillSent(int(syscall.SIGTERM)) || own.KillSent(int(syscall.SIGINT)) {
		t.Errorf("after MarkKill(SIGKILL) and MarkKill(SIGTERM): KillSent of SIGKILL %v, SIGTERM %v, SIGINT %v; want true, true, false",
			own.KillSent(int(syscall.SIGKILL)), own.KillSent(int(syscall.SIGTERM)), own.KillSent(int(syscall.SIGINT)))
	}
	// A SIGKILL that could not be sent is taken back: the other kill's
	// SIGTERM stays.
	if err := other.UnmarkKill(int(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	if own.KillSent(int(syscall.SIGKILL)) || !own.KillSent(int(syscall.SIGTERM)) {
		t.Errorf("after UnmarkKill(SIGKILL): KillSent of SIGKILL %v, SIGTERM %v; want false, true", own.KillSent(int(syscall.SIGKILL)), own.KillSent(int(syscall.SIGTERM)))
	}
	// A mark an older workshop wrote ("9", no newline), then one of
	// this one's: both are read.
	if err := os.WriteFile(filepath.Join(ContainersDir(dir), own.ID, killMark), []byte("9"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := other.MarkKill(int(syscall.SIGTERM)); err != nil {
		t.Fatal(err)
	}
	if !own.KillSent(int(syscall.SIGKILL)) || !own.KillSent(int(syscall.SIGTERM)) {
		t.Errorf("after an older workshop's mark \"9\" and MarkKill(SIGTERM): KillSent of SIGKILL %v, SIGTERM %v; want true, true", own.KillSent(int(syscall.SIGKILL)), own.KillSent(int(syscall.SIGTERM)))
	}
	if runs, _ := List(dir); len(runs) != 1 {
		t.Errorf("the mark broke the record: List has %d runs, want 1", len(runs))
	}
	if err := own.Forget(); err != nil {
		t.Errorf("Forget of a marked run: %v", err)
	}
}

// A container directory whose record cannot be read is named as such, not
// as no container at all.
func TestLoadDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	if err := New(dir, &Run{ID: "cccc11112222", Name: "damaged"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ContainersDir(dir), "cccc11112222", "state.json"), []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, "cccc11112222")
	if err == nil || !strings.Contains(err.Error(), "container cccc11112222: its record is unreadable") || !strings.Contains(err.Error(), "remove it by hand") {
		t.Errorf("Load of a damaged record = %v, want it named unreadable, and what to do", err)
	}
	if err := os.Mkdir(filepath.Join(ContainersDir(dir), "dddd11112222"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "dddd11112222"); err == nil || !strings.Contains(err.Error(), "its directory holds no record") {
		t.Errorf("Load of a directory without a record = %v", err)
	}
	if _, err := Load(dir, ".."); err == nil || !strings.Contains(err.Error(), `no container ".."`) {
		t.Errorf("Load(..) = %v, want no container", err)
	}
	// By its name, which only the damaged record holds: List cannot see
	// it, and the sentence says which record may be it.
	if _, err := Load(dir, "damaged"); err == nil || !errors.Is(err, ErrNoContainer) || !strings.Contains(err.Error(), "unless it is container cccc11112222, whose record cannot be read") {
		t.Errorf("Load by the name of a damaged record = %v, want no container, and the damaged one named", err)
	}
	bad := Unreadable(dir)
	if len(bad) != 1 || bad[0].ID != "cccc11112222" || bad[0].Err == nil {
		t.Errorf("Unreadable = %v, want the damaged record alone (not the directory with none)", bad)
	}
}

// `workshop clean` removes the containers directory when it finds it empty,
// while a run may be recording itself there (step 4's runs do not hold the
// names' lock step 6's take): New makes it again rather than fail.
func TestNewWhileTheContainersDirectoryIsRemoved(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a clean, over and over: rmdir succeeds only when empty
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				syscall.Rmdir(ContainersDir(dir))
				time.Sleep(time.Microsecond)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := 0; i < 1000; i++ {
		r := &Run{ID: fmt.Sprintf("%012x", i), Step: 4}
		if err := New(dir, r); err != nil {
			t.Fatalf("run %d: New = %v", i, err)
		}
		if err := r.Forget(); err != nil {
			t.Fatalf("run %d: Forget = %v", i, err)
		}
	}
}

// MkdirPrivate makes a directory of the state dir root's alone, and the
// state dir above it, when missing, open to others (0755), as step 1 makes
// it; what exists keeps its mode.
func TestMkdirPrivate(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o077)) // a strict sudo's
	parent := filepath.Join(t.TempDir(), "var", "lib")
	state := filepath.Join(parent, "workshop")
	images := filepath.Join(state, "images")
	if err := MkdirPrivate(images); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]os.FileMode{filepath.Dir(parent): 0o755, parent: 0o755, state: 0o755, images: 0o700} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", dir, fi.Mode(), err, want)
		}
	}
	if err := os.Chmod(images, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := MkdirPrivate(images); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(images); fi.Mode().Perm() != 0o750 {
		t.Errorf("MkdirPrivate changed an existing directory's mode to %v", fi.Mode())
	}
}

// Children reads /proc/PID/task/*/children, and where the kernel has none
// (no CONFIG_PROC_CHILDREN) every process's parent: both find the same.
func TestChildren(t *testing.T) {
	var started []int
	for range 2 {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		started = append(started, cmd.Process.Pid)
	}
	for name, list := range map[string]func(int) []int{"Children": Children, "childrenByParent": childrenByParent} {
		got := list(os.Getpid())
		for _, p := range started {
			if !slices.Contains(got, p) {
				t.Errorf("%s(%d) = %v, lacks child %d", name, os.Getpid(), got, p)
			}
		}
		if kids := list(started[0]); len(kids) != 0 {
			t.Errorf("%s of a sleep = %v, want none", name, kids)
		}
	}
}

// A run's directory is made under a name that names its maker: clean
// removes one whose maker is dead at once, and leaves one whose maker
// lives, or cannot be looked at (another PID namespace).
func TestMakerOf(t *testing.T) {
	ours := makingName("abcdefabcdef")
	if !strings.HasPrefix(ours, MakingPrefix+"abcdefabcdef.") || MakerOf(ours) != MakerAlive {
		t.Errorf("MakerOf(%q), this process's = %v, want MakerAlive, or the name is not New's", ours, MakerOf(ours))
	}
	ns := pidNamespace()
	for name, want := range map[string]Maker{
		fmt.Sprintf("%sabcdefabcdef.%d.%d.%d", MakingPrefix, 1<<22+1, 1, ns):     MakerGone,    // no such pid
		fmt.Sprintf("%sabcdefabcdef.%d.%d.%d", MakingPrefix, os.Getpid(), 1, ns): MakerGone,    // another process of that pid, since
		fmt.Sprintf("%sabcdefabcdef.%d.%d.%d", MakingPrefix, 1<<22+1, 1, ns+1):   MakerUnknown, // another PID namespace
		fmt.Sprintf("%sabcdefabcdef.%d.%d", MakingPrefix, 1<<22+1, 1):            MakerUnknown, // not New's name
		fmt.Sprintf("%sabcdefabcdef.%d.%d.%d", MakingPrefix, os.Getpid(), 0, ns): MakerUnknown, // no start time
		NewPrefix + "abcdefabcdef": MakerUnknown,
	} {
		if got := MakerOf(name); got != want {
			t.Errorf("MakerOf(%q) = %v, want %v", name, got, want)
		}
	}
	// New leaves none behind: the directory ends under the run's id.
	dir := t.TempDir()
	r := &Run{ID: "abcdefabcdef"}
	if err := New(dir, r); err != nil {
		t.Fatal(err)
	}
	defer r.LetGo()
	if entries, _ := os.ReadDir(ContainersDir(dir)); len(entries) != 1 || entries[0].Name() != r.ID {
		t.Errorf("after New, %s holds %v, want the run's id alone", ContainersDir(dir), entries)
	}
}

// Load takes a whole id first: a container named as another's full id is
// reached by its name only where no container has that id. Were the id
// not looked at first, "workshop kill <id>" could signal the wrong
// container, one whose name was picked to look like a victim's id.
func TestLoadWholeIDBeforeName(t *testing.T) {
	dir := t.TempDir()
	for i, r := range []*Run{{ID: "aaaa00000001", Name: "first"}, {ID: "bbbb00000002", Name: "aaaa00000001"}} {
		r.Created = time.Unix(int64(i), 0)
		if err := New(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := Load(dir, "aaaa00000001"); err != nil || r.ID != "aaaa00000001" {
		t.Errorf("Load(a full id that is also another's name) = %v, %v; want aaaa00000001", r, err)
	}
}

// A stray regular file in the containers directory (a note someone left,
// an editor's backup) is no record: Scan skips it. Without the check ps
// would report it as a container whose record is unreadable, to be
// removed by hand.
func TestScanSkipsStrayFiles(t *testing.T) {
	dir := t.TempDir()
	r := &Run{ID: "dddd11112222", Name: "d", Step: 6}
	if err := New(dir, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ContainersDir(dir), "notes.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, bad, err := Scan(dir)
	if err != nil || len(runs) != 1 || runs[0].ID != r.ID || len(bad) != 0 {
		t.Errorf("Scan = %v, %v, %v; want the one run, nothing unreadable", runs, bad, err)
	}
}

// A run ended with its layer kept (--keep) only once its pid is cleared
// and its mounts are gone: a --keep run killed while its overlay was
// still mounted is not one, and ps must not offer to diff it as ended.
func TestEndedWithLayerKept(t *testing.T) {
	for _, tc := range []struct {
		run  Run
		want bool
	}{
		{Run{Keep: true}, true},
		{Run{Keep: true, Cgroups: []string{"/c"}}, true},
		{Run{}, false},
		{Run{Keep: true, Pid: 42}, false},
		{Run{Keep: true, Mounts: []string{"/m"}}, false},
		{Run{Keep: true, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, false},
	} {
		if got := tc.run.EndedWithLayerKept(); got != tc.want {
			t.Errorf("%+v.EndedWithLayerKept() = %v, want %v", tc.run, got, tc.want)
		}
	}
}
