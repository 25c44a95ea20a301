package lessontest

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckNarrationCatchesDrift(t *testing.T) {
	printed := "chroot(\"/r\") = 0\n==> note\n[pid 12] chdir(\"/\") = 0\n" +
		"mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/0a1b2c3d4e5f\", 0755) = 0\n" +
		"[pid 12] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)\n"
	ok := []string{"…", "[pid 4607] chdir(\"/\") = 0", "…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0",
		"[pid 4607] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)"}
	if err := CheckNarration(ok, printed); err != nil {
		t.Errorf("CheckNarration(lines it printed) = %v", err)
	}
	for _, drift := range [][]string{
		{"[pid 1] execve(\"/bin/sh\", [\"sh\"], …) = -1 ENOENT (No such file or directory)"},
		{"[pid 1] execve(\"/bin/bash\", [\"bash\"], …) = 0"},
		{"[pid 1] chdir(\"/\") = 0", "chroot(\"/r\") = 0"}, // order
		// chdir and execve with the mkdirat between them left out, and
		// no "…" to say so: a call the lesson hides.
		{"…", "[pid 1] chdir(\"/\") = 0", "[pid 1] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)"},
		// The chroot before the first shown call, and the execve after
		// the last, left out without a "…".
		{"[pid 1] chdir(\"/\") = 0", "…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0", "…"},
		{"…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0"},
	} {
		if err := CheckNarration(drift, printed); err == nil {
			t.Errorf("CheckNarration(%q) = nil, want the drift caught", drift)
		}
	}
}

// Only what differs from run to run is left out of the comparison: pids
// (matched side to side), file descriptors, ids; a limit, a mode, a
// length or a note's words are compared as shown.
func TestCheckNarrationKeepsNumbers(t *testing.T) {
	printed := "clone(flags=CLONE_NEWPID|SIGCHLD) = 20649\n" +
		"==> the child is pid 20649 on the host\n" +
		"openat(AT_FDCWD, \"/sys/fs/cgroup/memory/sandbox/memory.limit_in_bytes\", O_WRONLY|O_CLOEXEC) = 7\n" +
		"write(7, \"83886080\", 8) = 8\n" +
		"write(7, \"20649\", 5) = 5\n" +
		// Made or not by how long the command ran: not compared.
		"==> … 3 ppoll calls while it ran, one every tenth of a second\n" +
		"[pid 20649] mkdirat(AT_FDCWD, \"/r/.oldroot\", 0700) = 0\n" +
		"==> copied 4 files\n"
	ok := []string{"clone(flags=CLONE_NEWPID|SIGCHLD) = 517",
		"==> the child is pid 517 on the host",
		"openat(AT_FDCWD, \"/sys/fs/cgroup/memory/sandbox/memory.limit_in_bytes\", O_WRONLY|O_CLOEXEC) = 5",
		"write(5, \"83886080\", 8) = 8",
		"write(5, \"517\", 3) = 3",
		"[pid 517] mkdirat(AT_FDCWD, \"/r/.oldroot\", 0700) = 0",
		"==> copied 4 files"}
	if err := CheckNarration(ok, printed); err != nil {
		t.Errorf("CheckNarration(the same run, other pids and fds) = %v", err)
	}
	for i, drift := range []string{
		"write(5, \"80000000\", 8) = 8",                          // the limit
		"[pid 517] mkdirat(AT_FDCWD, \"/r/.oldroot\", 0755) = 0", // the mode
		"==> copied 5 files",                                     // a note
	} {
		shown := append([]string{}, ok...)
		shown[[]int{3, 5, 6}[i]] = drift
		if err := CheckNarration(shown, printed); err == nil {
			t.Errorf("CheckNarration with %q = nil, want the drift caught", drift)
		}
	}
}

func TestShown(t *testing.T) {
	md := "```\n$ a\nout a\n$ b\n```\ntext\n```\n$ c\n```\n"
	got := Shown(md)
	if strings.Join(got["a"], "|") != "out a" || len(got["b"]) != 0 || len(got["c"]) != 0 {
		t.Errorf("Shown = %q", got)
	}
}

func TestCoverage(t *testing.T) {
	md := "```\n$ a\n$ b\n```\n"
	var ft fakeT
	Coverage(&ft, "the test text", md, []string{"a", "c"})
	if len(ft.errs) != 2 || !strings.Contains(ft.errs[0], "`b`") || !strings.Contains(ft.errs[1], "`c`") {
		t.Errorf("Coverage errors = %q, want b untested and c gone", ft.errs)
	}
}

type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// A pid is named only where a pid stands: inside a container pids are
// small and vary, and a number that equals one elsewhere is still
// compared. The standard descriptors, a poll's timeout and a timing
// note's presence are compared too; the host's sizes in a note are not.
func TestCheckNarrationNamesOnlyWhatVaries(t *testing.T) {
	printed := "==> packed x: 7 files (4.5 MB)\n" +
		"[pid 1] clone(flags=SIGCHLD) = 8\n" +
		"[pid 8] rt_sigaction(SIGTTOU, {sa_handler=SIG_DFL, …}, NULL, 8) = 0\n" +
		"ioctl(0, TIOCSPGRP, [4237]) = 0\n" +
		"ppoll([{fd=0, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 0\n" +
		"==> … 12 ppoll calls while it ran, one every tenth of a second\n"
	ok := []string{"==> packed x: 7 files (4.6 MB)",
		"[pid 1] clone(flags=SIGCHLD) = 10",
		"[pid 10] rt_sigaction(SIGTTOU, {sa_handler=SIG_DFL, …}, NULL, 8) = 0",
		"ioctl(0, TIOCSPGRP, [4251]) = 0",
		"ppoll([{fd=0, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 0",
		"==> … 38 ppoll calls while it ran, one every tenth of a second"}
	if err := CheckNarration(ok, printed); err != nil {
		t.Errorf("CheckNarration(the same run, other pids and sizes) = %v", err)
	}
	for i, drift := range []string{
		"[pid 10] rt_sigaction(SIGTTOU, {sa_handler=SIG_DFL, …}, NULL, 10) = 0", // a number that is no pid
		"ioctl(2, TIOCSPGRP, [4251]) = 0",                                       // another standard descriptor
		"ppoll([{fd=0, events=0}], 1, {tv_sec=1, tv_nsec=0}, NULL, 0) = 0",      // a poll that waits
		"==> … 38 ppoll calls while the container had the terminal",             // another note
	} {
		shown := append([]string{}, ok...)
		shown[[]int{2, 3, 4, 5}[i]] = drift
		if err := CheckNarration(shown, printed); err == nil {
			t.Errorf("CheckNarration with %q = nil, want the drift caught", drift)
		}
	}
	// A timing note the lesson shows must be printed; one it does not
	// show is not looked for.
	if err := CheckNarration(ok[:5], printed); err != nil {
		t.Errorf("CheckNarration without the timing note = %v", err)
	}
	if err := CheckNarration(ok, strings.TrimSuffix(printed, "==> … 12 ppoll calls while it ran, one every tenth of a second\n")); err == nil {
		t.Errorf("CheckNarration of a shown timing note not printed = nil")
	}
	// The first block is the first lines printed, not a run of the same
	// lines later on.
	twice := "close(3) = 0\nchdir(\"/\") = 0\nclose(3) = 0\n"
	if err := CheckNarration([]string{"close(5) = 0", "…"}, twice); err != nil {
		t.Errorf("CheckNarration(the first line) = %v", err)
	}
	if err := CheckNarration([]string{"close(5) = 0"}, "chdir(\"/\") = 0\nclose(3) = 0\n"); err == nil {
		t.Errorf("CheckNarration of a first line printed second = nil")
	}
}

// A pid the caller names (workshop kill's, 4242 in the lesson) written
// into a file: its length is the pid's too.
func TestCheckNarrationPidsWrittenPid(t *testing.T) {
	printed := "write(5, \"31555\", 5) = 5\n"
	if err := CheckNarrationPids([]string{"write(5, \"4242\", 4) = 4"}, printed, "4242", "31555"); err != nil {
		t.Errorf("CheckNarrationPids(the pid written, of another length) = %v", err)
	}
	if err := CheckNarrationPids([]string{"write(5, \"4243\", 4) = 4"}, printed, "4242", "31555"); err == nil {
		t.Errorf("CheckNarrationPids(another number written) = nil, want it caught")
	}
}

// A prompt bash printed before workshop's line of its execve (as CI once
// had it) reads as the two happened, as the lessons show them.
func TestExecveBeforePrompt(t *testing.T) {
	screen := "[pid 1] chdir(\"/\") = 0\nbash-5.1# [pid 1] execve(\"/bin/bash\", [\"/bin/bash\"], …) = 0\necho $$\n1\nbash-5.1# exit\n"
	got := BashPrompt(execveBeforePrompt.ReplaceAllString(screen, "$2\n$1"))
	want := "[pid 1] chdir(\"/\") = 0\n[pid 1] execve(\"/bin/bash\", [\"/bin/bash\"], …) = 0\nbash-5.2# echo $$\n1\nbash-5.2# exit\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, lacks := Lacks(got, []string{"bash-5.2# echo $$", "1", "bash-5.2# exit"}); lacks {
		t.Errorf("the lesson's transcript is not in\n%s", got)
	}
	if missing, lacks := Lacks(got, []string{"bash-5.2# exit", "1"}); !lacks || missing != "1" {
		t.Errorf("Lacks of lines out of order = %q, %v; want \"1\", true", missing, lacks)
	}
}
