package stracecheck

import (
	"strings"
	"testing"
)

func TestNothingHiddenInARealRun(t *testing.T) {
	narration, log := readTestdata(t)
	if err := CheckNothingHidden(narration, log); err != nil {
		t.Errorf("CheckNothingHidden(a real run) = %v", err)
	}
}

// Dropping a narrated chroot line must be caught: strace saw the call.
func TestHiddenCallIsCaught(t *testing.T) {
	narration, log := readTestdata(t)
	var kept []string
	dropped := false
	for _, l := range strings.Split(narration, "\n") {
		if !dropped && strings.Contains(l, "chroot(") {
			dropped = true
			continue
		}
		kept = append(kept, l)
	}
	if !dropped {
		t.Fatal("the test data narrates no chroot")
	}
	if err := CheckNothingHidden(strings.Join(kept, "\n"), log); err == nil || !strings.Contains(err.Error(), "chroot(") {
		t.Errorf("CheckNothingHidden without the chroot line = %v, want the hidden chroot named", err)
	}
}

// The command's own calls, after its execve, are not workshop's to narrate.
func TestCallsOfTheCommandAreNotWorkshops(t *testing.T) {
	log := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 101\n" +
		"101 execve(\"/bin/sh\", [\"sh\"], 0x7ff /* 3 vars */) = 0\n" +
		"101 mount(\"none\", \"/mnt\", \"tmpfs\", 0, NULL) = 0\n"
	if err := CheckNothingHidden("", log); err != nil {
		t.Errorf("a mount made by the command after its execve = %v, want it left alone", err)
	}
	log = strings.Replace(log, "101 execve(\"/bin/sh\"", "101 execve(\"/proc/self/exe\"", 1)
	if err := CheckNothingHidden("", log); err == nil {
		t.Errorf("a mount made by workshop's re-executed child went unnoticed")
	}
}
