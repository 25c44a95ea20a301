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
	const narration = "clone(flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 101\n"
	if err := CheckNothingHidden(narration, log); err != nil {
		t.Errorf("a mount made by the command after its execve = %v, want it left alone", err)
	}
	log = strings.Replace(log, "101 execve(\"/bin/sh\"", "101 execve(\"/proc/self/exe\"", 1)
	if err := CheckNothingHidden(narration, log); err == nil {
		t.Errorf("a mount made by workshop's re-executed child went unnoticed")
	}
}

// A process made by a workshop process must be told of: the child a step
// starts by its clone line, the clone of Go's pidfd probe by its note, the
// loader runs of u-root's ldd by step 2's count of them.
func TestHiddenProcessIsCaught(t *testing.T) {
	narration, log := readTestdata(t)
	if err := CheckNothingHidden(narration, log); err != nil {
		t.Fatalf("CheckNothingHidden(a real run) = %v", err)
	}
	without := func(part string) string {
		var kept []string
		for _, l := range strings.Split(narration, "\n") {
			if !strings.Contains(l, part) {
				kept = append(kept, l)
			}
		}
		if len(kept) == len(strings.Split(narration, "\n")) {
			t.Fatalf("the test data has no line with %q", part)
		}
		return strings.Join(kept, "\n")
	}
	if err := CheckNothingHidden(without("pidfds work"), log); err == nil || !strings.Contains(err.Error(), "pidfd probe") {
		t.Errorf("CheckNothingHidden without the note of Go's pidfd probe = %v, want its clone named", err)
	}
	if err := CheckNothingHidden(without("clone(flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD) = "), log); err == nil || !strings.Contains(err.Error(), "make a process") {
		t.Errorf("CheckNothingHidden without the child's clone line = %v, want the clone named", err)
	}

	ldd := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK, parent_tid=[5]) = 101\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[6]) = 102\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[6]) = 103\n"
	probe := "==> before the first child a process starts, Go's os package checks once that pidfds work: …\n"
	// A child started with clone3 (born in its cgroup, on v2) shows its
	// exit signal apart from its flags: no probe, even without SIGCHLD
	// among them.
	clone3 := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone3({flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|CLONE_INTO_CGROUP, pidfd=0x7ff, exit_signal=SIGCHLD, stack=NULL, stack_size=0, cgroup=7}, 88) = 101\n"
	if err := CheckNothingHidden(probe, clone3); err == nil || !strings.Contains(err.Error(), "make a process") {
		t.Errorf("CheckNothingHidden(a clone3 child, told of by the probe's note alone) = %v, want the clone3 named as a process not told of", err)
	}
	// The probe's child's own view of the clone (= 0), should strace show
	// it, made no process.
	childView := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK, parent_tid=[5]) = 101\n" +
		"101 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK, parent_tid=[5]) = 0\n" +
		"101 exit_group(0) = ?\n"
	// A clone a signal interrupted, which the kernel makes again
	// (ERESTARTNOINTR): strace logs both, and the first made nothing.
	restarted := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK, parent_tid=[5]) = ? ERESTARTNOINTR (To be restarted)\n" +
		"100 --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=100, si_uid=0} ---\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK, parent_tid=[5]) = 101\n"
	if err := CheckNothingHidden(probe, restarted); err != nil {
		t.Errorf("CheckNothingHidden(a probe restarted after a signal) = %v", err)
	}
	for range 20 { // the processes are looked at in a map's order
		if err := CheckNothingHidden(probe, childView); err != nil {
			t.Fatalf("CheckNothingHidden(a probe, with its child's view of the clone) = %v", err)
		}
	}
	for _, tc := range []struct {
		narration string
		ok        bool
	}{
		{probe + "==> ldd ran the loader in 2 child processes (Go's os/exec made their clone and execve): …\n", true},
		{probe + "==> ldd ran the loader in a child process (Go's os/exec made its clone and execve): …\n", false},
		{"==> ldd ran the loader in 3 child processes (Go's os/exec made their clone and execve): …\n", false},
	} {
		if err := CheckNothingHidden(tc.narration, ldd); (err == nil) != tc.ok {
			t.Errorf("CheckNothingHidden(%q) = %v, want ok %v", tc.narration, err, tc.ok)
		}
	}
}

// The processes the command forks after its execve (a fork bomb's
// subshells, which exec nothing) are the command's: their calls and their
// children are not workshop's to narrate. A process workshop's child made
// before its own execve still is workshop's.
func TestProcessesOfTheCommandAreNotWorkshops(t *testing.T) {
	log := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 101\n" +
		"101 execve(\"/bin/bash\", [\"bash\"], 0x7ff /* 3 vars */) = 0\n" +
		"101 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 102\n" +
		"102 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 103\n" +
		"102 kill(103, SIGTERM) = 0\n"
	const narration = "clone(flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 101\n"
	for range 20 { // the processes are looked at in a map's order
		if err := CheckNothingHidden(narration, log); err != nil {
			t.Fatalf("a subshell of the command that forks and kills = %v, want it left alone", err)
		}
	}
	// The same subshell made by workshop's child before its execve.
	early := strings.Replace(log, "101 execve(\"/bin/bash\", [\"bash\"], 0x7ff /* 3 vars */) = 0\n", "", 1) +
		"101 execve(\"/bin/bash\", [\"bash\"], 0x7ff /* 3 vars */) = 0\n"
	if err := CheckNothingHidden(narration, early); err == nil || !strings.Contains(err.Error(), "make a process") {
		t.Errorf("a process made by workshop's child before its execve, not told of = %v, want its clone named", err)
	}
}

// A group's kill of many processes prints ten kill calls and counts the
// rest in a note: exactly that many unprinted SIGKILLs, with the results the
// note gives, must be in the record.
func TestCountedKillsMustAddUp(t *testing.T) {
	head := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n" +
		"100 kill(201, SIGKILL) = 0\n"
	const shown = "kill(201, SIGKILL) = 0\n"
	ok := "100 kill(202, SIGKILL) = 0\n"
	gone := "100 kill(203, SIGKILL) = -1 ESRCH (No such process)\n"
	note := func(n string) string {
		return "==> … and " + n + ", one for each other process of the group, not shown"
	}
	for _, tc := range []struct {
		name, narration, log string
		ok                   bool
	}{
		{"one counted", shown + note("1 more kill(PID, SIGKILL) call") + "\n", head + ok, true},
		{"two counted, one gone", shown + note("2 more kill(PID, SIGKILL) calls") + " (1 of them = -1 ESRCH: the process had already ended)\n", head + ok + gone, true},
		{"none counted", shown, head + ok, false},
		{"counted more than made", shown + note("2 more kill(PID, SIGKILL) calls") + "\n", head + ok, false},
		{"counted fewer than made", shown + note("1 more kill(PID, SIGKILL) call") + "\n", head + ok + ok, false},
		{"a gone one counted as sent", shown + note("2 more kill(PID, SIGKILL) calls") + "\n", head + ok + gone, false},
		{"a SIGTERM counted as a SIGKILL", shown + note("1 more kill(PID, SIGKILL) call") + "\n", head + "100 kill(202, SIGTERM) = 0\n", false},
	} {
		if err := CheckNothingHidden(tc.narration, tc.log); (err == nil) != tc.ok {
			t.Errorf("%s: CheckNothingHidden = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// A device node made by its path (the init's /dev) is a lesson call; an
// unpack's, made relative to a directory's descriptor, is counted in its
// summary of the file work.
func TestHiddenMknodIsCaught(t *testing.T) {
	head := "100 execve(\"/usr/bin/workshop\", [\"workshop\"], 0x7ff /* 3 vars */) = 0\n"
	byPath := "100 mknodat(AT_FDCWD, \"/root/dev/null\", S_IFCHR|0666, makedev(0x1, 0x3)) = 0\n"
	inDir := "100 mknodat(15, \"null\", S_IFCHR|0600, makedev(0x1, 0x3)) = 0\n"
	if err := CheckNothingHidden("", head+byPath); err == nil || !strings.Contains(err.Error(), "mknodat(AT_FDCWD") {
		t.Errorf("an unnarrated mknodat of /root/dev/null = %v, want it named", err)
	}
	if err := CheckNothingHidden("mknodat(AT_FDCWD, \"/root/dev/null\", S_IFCHR|0666, makedev(0x1, 0x3)) = 0\n", head+byPath); err != nil {
		t.Errorf("a narrated mknodat = %v", err)
	}
	if err := CheckNothingHidden("", head+inDir); err != nil {
		t.Errorf("an unpack's mknodat relative to its directory = %v, want it left to the summary", err)
	}
	fifo := "100 mknodat(AT_FDCWD, \"/state/containers/1/rootfs/run/pipe\", S_IFIFO|0600) = 0\n"
	if err := CheckNothingHidden("", head+fifo); err != nil {
		t.Errorf("a copy's mkfifo = %v, want it left to the summary", err)
	}
}
