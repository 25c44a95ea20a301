package state

import (
	"os"
	"os/exec"
	"testing"
	"time"
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
