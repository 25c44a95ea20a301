package state

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A workshop killed with SIGKILL is a zombie until its parent (a shell, a
// test) collects it: its pid and start time still read as they were, but
// it owns nothing any more.
func TestOwnedIsFalseForAZombie(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	r := &Run{WorkshopPid: cmd.Process.Pid, WorkshopStart: StartTime(cmd.Process.Pid)}
	if !r.Owned() {
		cmd.Process.Kill()
		t.Fatalf("Owned() of a running owner = false, want true")
	}
	cmd.Process.Kill() // not collected yet: a zombie
	deadline := time.Now().Add(time.Minute)
	for statField(cmd.Process.Pid, 3) != "Z" {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never became a zombie (state %q)", cmd.Process.Pid, statField(cmd.Process.Pid, 3))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Owned() {
		t.Errorf("Owned() of a zombie owner = true, want false")
	}
	if self := (&Run{WorkshopPid: os.Getpid(), WorkshopStart: StartTime(os.Getpid())}); !self.Owned() {
		t.Errorf("Owned() of this very process = false, want true")
	}
}

// A run's workshop holds a flock on the run's directory for as long as it
// lives: that tells it lives even where its pid cannot (a workshop in
// another PID namespace, whose pids mean other processes here), and once
// it lets go (it ended, however), its run is no one's.
func TestOwnedByTheLock(t *testing.T) {
	stateDir := t.TempDir()
	r := &Run{ID: "0123456789ab", Command: []string{"/bin/true"}}
	if err := New(stateDir, r); err != nil {
		t.Fatal(err)
	}
	if !r.Owned() {
		t.Fatal("Owned() of a run this process recorded = false, want true")
	}
	// As a workshop in another PID namespace recorded it: pid 1 there.
	r.WorkshopPid, r.WorkshopPidNS = 1, "pid:[1]"
	if !r.OtherPIDNamespace() {
		t.Fatal("OtherPIDNamespace() = false for pid:[1]")
	}
	if !r.Owned() {
		t.Error("Owned() of a live run recorded in another PID namespace = false: its lock is held")
	}
	r.LetGo() // as its workshop's end does
	if r.Owned() {
		t.Error("Owned() of a run whose workshop let go of its lock, in another PID namespace = true, want false")
	}
	// Two that look at once (ps and clean) do not take each other for the
	// owner: another's look, under way, holds the lock it takes to look.
	look, err := os.Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer look.Close()
	if err := unix.Flock(int(look.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if r.Owned() {
		t.Error("Owned() = true while another process looked: it took the looker for the owner")
	}
}

// A run whose workshop is gone is forgotten once its record is gone too
// (it ended by itself, after the record was read), and not before (its
// workshop was killed, and left the record).
func TestForgotten(t *testing.T) {
	r := &Run{ID: "0123456789ab", Command: []string{"/bin/true"}}
	if err := New(t.TempDir(), r); err != nil {
		t.Fatal(err)
	}
	if r.Forgotten() {
		t.Fatal("Forgotten() of a run this process holds = true")
	}
	r.LetGo()
	r.WorkshopPid = 0 // as a workshop that is gone, its lock let go
	if r.Owned() || r.Forgotten() {
		t.Errorf("a record left by a workshop that is gone: Owned() = %v, Forgotten() = %v, want false, false (killed)", r.Owned(), r.Forgotten())
	}
	if err := r.Forget(); err != nil {
		t.Fatal(err)
	}
	if !r.Forgotten() {
		t.Error("Forgotten() = false once the record is gone with its workshop")
	}
}
