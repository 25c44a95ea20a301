package stracecheck

import (
	"os"
	"strings"
	"testing"
)

// testdata/escape.* is a real run of `workshop step 1 --demo escape` under
// strace -f (the narration on stderr, and strace's log).
func readTestdata(t *testing.T) (narration, log string) {
	t.Helper()
	n, err := os.ReadFile("testdata/escape.narration")
	if err != nil {
		t.Fatal(err)
	}
	l, err := os.ReadFile("testdata/escape.strace")
	if err != nil {
		t.Fatal(err)
	}
	return string(n), string(l)
}

func TestCheckAcceptsARealRun(t *testing.T) {
	narration, log := readTestdata(t)
	if err := Check(narration, log, nil); err != nil {
		t.Errorf("Check(real run) = %v, want nil", err)
	}
}

// The comparison must fail on a narration that lies, in each way a line can.
func TestCheckRejectsFabricatedLines(t *testing.T) {
	narration, log := readTestdata(t)
	child := ""
	for _, c := range ParseNarration(narration) {
		if c.Group != "" {
			child = c.Group // the escape child's "[pid N]"
			break
		}
	}
	for _, tc := range []struct{ name, from, to string }{
		{"a call that never happened", "", child + ` mkdirat(AT_FDCWD, "/etc/evil", 0755) = 0`},
		{"a wrong path", `chroot("escape")`, `chroot("elsewhere")`},
		{"success where it failed", `execve("/bin/ls", ["ls", "/"], …) = 0`, `execve("/bin/ls", ["ls", "/"], …) = -1 ENOENT (No such file or directory)`},
		{"a wrong errno", `chdir("/") = 0`, `chdir("/") = -1 EPERM (Operation not permitted)`},
		{"wrong clone flags", `clone(flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD)`, `clone(flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|CLONE_NEWPID|SIGCHLD)`},
		{"a parent call claimed by the child", `unlinkat(AT_FDCWD,`, child + ` unlinkat(AT_FDCWD,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lied string
			if tc.from == "" {
				lied = narration + tc.to + "\n"
			} else {
				if !strings.Contains(narration, tc.from) {
					t.Fatalf("testdata narration lacks %q", tc.from)
				}
				lied = strings.Replace(narration, tc.from, tc.to, 1)
			}
			if err := Check(lied, log, nil); err == nil {
				t.Errorf("Check accepted a narration with %s:\n%s", tc.name, lied)
			}
		})
	}
}

func TestCheckOrderWithinAProcess(t *testing.T) {
	narration, log := readTestdata(t)
	lines := strings.Split(narration, "\n")
	// Swap the child's chroot("escape") and the chdir("/") before it.
	i := indexOf(lines, `chdir("/") = 0`)
	j := indexOf(lines, `chroot("escape") = 0`)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("testdata narration lacks the lines to swap")
	}
	lines[i], lines[j] = lines[j], lines[i]
	if err := Check(strings.Join(lines, "\n"), log, nil); err == nil {
		t.Errorf("Check accepted two calls of one process in the wrong order")
	}
}

func TestCheckNeedsTheCallTraced(t *testing.T) {
	narration, log := readTestdata(t)
	if err := Check(narration, log, []string{"chroot", "chdir"}); err == nil || !strings.Contains(err.Error(), "was not asked to trace") {
		t.Errorf("Check with mkdirat untraced = %v, want an error naming it", err)
	}
}

func indexOf(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) && strings.HasPrefix(l, "[pid") {
			return i
		}
	}
	return -1
}

func TestParseNarration(t *testing.T) {
	text := "==> a note(x) = 1\n" +
		"\x1b[33mchroot\x1b[0m(\"/r\") \x1b[31m= -1 ENOENT (No such file or directory)\x1b[0m\n" +
		"[pid 7] execve(\"/bin/bash\", [\"bash\"], …) = 0  # replace this process's program\n" +
		"write(3, \"0123456789abcdef0123456789abcdef\"..., 40) = 40\n" +
		"clone(flags=CLONE_NEWNS|SIGCHLD) = 42\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n"
	got := ParseNarration(text)
	if len(got) != 4 {
		t.Fatalf("ParseNarration found %d calls, want 4: %+v", len(got), got)
	}
	if c := got[0]; c.Name != "chroot" || c.Str != "/r" || c.Errno != "ENOENT" || c.Group != "" {
		t.Errorf("coloured line = %+v", c)
	}
	if c := got[1]; c.Name != "execve" || c.Str != "/bin/bash" || c.Errno != "" || c.Group != "[pid 7]" {
		t.Errorf("explained child line = %+v", c)
	}
	if c := got[2]; !c.Cut || c.Str != "0123456789abcdef0123456789abcdef" {
		t.Errorf("cut write = %+v", c)
	}
	if c := got[3]; strings.Join(c.Flags, "|") != "CLONE_NEWNS|SIGCHLD" {
		t.Errorf("clone flags = %v", c.Flags)
	}
}

func TestParseStrace(t *testing.T) {
	log := `100 execve("/w", ["w"], 0x7ffe /* 3 vars */) = 0
100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD, exit_signal=0} => {parent_tid=[101]}, 88) = 101
101 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD <unfinished ...>
102 execve("/proc/self/exe", ["w", "__init"], 0x1 /* 3 vars */ <unfinished ...>
101 <... clone resumed>, parent_tid=[5]) = 102
102 <... execve resumed>)             = 0
102 chroot("/r\303\251\n\x41")           = -1 ENOENT (No such file or directory)
102 clone(child_stack=NULL, flags=CLONE_NEWPID|SIGCHLD) = 1 /* 103 in strace's PID NS */
103 write(1, "hello"..., 10) = 10
`
	recs, root := ParseStrace(log)
	if root != 100 {
		t.Errorf("root = %d, want 100", root)
	}
	names := []string{}
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if strings.Join(names, " ") != "execve clone3 clone execve chroot clone write" {
		t.Errorf("records = %v", names)
	}
	if r := recs[4]; r.Str != "/ré\nA" || r.Errno != "ENOENT" {
		t.Errorf("chroot record = %+v", r)
	}
	procs := groupByProcess(recs)
	if len(procs[100]) != 3 || len(procs[102]) != 3 || len(procs[103]) != 1 {
		t.Errorf("processes = %v, want 100: execve clone3 clone (101 is its thread); 102: execve chroot clone; 103: write", procs)
	}
	if !recs[6].Cut || recs[6].Str != "hello" {
		t.Errorf("cut string record = %+v", recs[6])
	}
}

// When a thread other than the leader calls execve, strace 6 shows the call
// begin under that thread ("<pid changed to …>") and end under the leader's
// id (seen on a real run: Go may exec from any thread).
func TestParseStraceExecFromAThread(t *testing.T) {
	for _, marker := range []string{"<pid changed to 200 ...>", "<unfinished ...>"} {
		log := `200 execve("/w", ["w"], 0x1 /* 3 vars */) = 0
200 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0} => {parent_tid=[203]}, 88) = 203
203 chroot("/r") = 0
203 execve("/bin/ls", ["ls", "/"], 0x2 /* 3 vars */ ` + marker + `
200 +++ superseded by execve in pid 203 +++
200 <... execve resumed>)             = 0
`
		recs, _ := ParseStrace(log)
		last := recs[len(recs)-1]
		if last.Name != "execve" || last.Str != "/bin/ls" || last.Tid != 200 || last.Errno != "" {
			t.Fatalf("with %s, last record = %+v, want the execve of /bin/ls ending under 200", marker, last)
		}
		narration := "[pid 200] chroot(\"/r\") = 0\n[pid 200] execve(\"/bin/ls\", [\"ls\", \"/\"], …) = 0\n"
		if err := Check(narration, log, nil); err != nil {
			t.Errorf("with %s, Check(an exec from a thread) = %v", marker, err)
		}
	}
}

// A Go program makes an rt_sigaction for nearly every signal as it starts:
// a narrated rt_sigaction matches only a call with the same signal, the
// same kind of new handler, and an old action asked for or not alike.
func TestCheckTellsRtSigactionsApart(t *testing.T) {
	const log = `100   rt_sigaction(SIGINT, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0
100   rt_sigaction(SIGINT, {sa_handler=0x48c760, sa_mask=~[], sa_flags=SA_RESTORER|SA_ONSTACK|SA_RESTART|SA_SIGINFO, sa_restorer=0x47f5a0}, NULL, 8) = 0
100   rt_sigaction(SIGTERM, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, {sa_handler=0x48c760, sa_mask=~[], sa_flags=SA_RESTORER|SA_ONSTACK|SA_RESTART|SA_SIGINFO, sa_restorer=0x47f5a0}, 8) = 0
100   +++ exited with 0 +++
`
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"rt_sigaction(SIGTERM, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, {sa_handler=<the Go runtime's handler>, …}, 8) = 0", true},
		{"rt_sigaction(SIGINT, {sa_handler=<the Go runtime's handler>, …}, NULL, 8) = 0", true},
		{"rt_sigaction(SIGINT, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, {sa_handler=<the Go runtime's handler>, …}, 8) = 0", false},
		{"rt_sigaction(SIGHUP, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, {sa_handler=<the Go runtime's handler>, …}, 8) = 0", false},
		{"rt_sigaction(SIGTERM, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=0}, {sa_handler=<the Go runtime's handler>, …}, 8) = 0", false},
	} {
		err := Check(tc.line+"\n", log, []string{"rt_sigaction"})
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want accepted: %v", tc.line, err, tc.ok)
		}
	}
	if got := topLevel("SIGINT, {a=1, b=[2, 3]}, NULL, 8"); len(got) != 4 || got[1] != "{a=1, b=[2, 3]}" {
		t.Errorf("topLevel = %q", got)
	}
}

// A child narrated under a pid strace does not know (its own PID
// namespace's) is found among all processes; where none made all its
// calls, the error names the one that made the most, and the line where it
// parted, which tells a lost record from a made-up line.
func TestCheckChildOfAnotherPIDNamespace(t *testing.T) {
	narration, log := readTestdata(t)
	child := ""
	for _, c := range ParseNarration(narration) {
		if c.Group != "" {
			child = c.Group
			break
		}
	}
	renamed := strings.ReplaceAll(narration, child, "[pid 1]")
	if err := Check(renamed, log, nil); err != nil {
		t.Fatalf("Check(the child renamed [pid 1]) = %v, want nil", err)
	}
	lines := strings.Split(renamed, "\n")
	i := indexOf(lines, `chroot("escape") = 0`)
	if i < 0 {
		t.Fatal("testdata narration lacks the child's chroot")
	}
	lines = append(lines[:i], append([]string{`[pid 1] mkdirat(AT_FDCWD, "/etc/evil", 0755) = 0`}, lines[i:]...)...)
	err := Check(strings.Join(lines, "\n"), log, nil)
	if err == nil || !strings.Contains(err.Error(), `then not "[pid 1] mkdirat(AT_FDCWD, \"/etc/evil\", 0755) = 0"`) {
		t.Errorf("Check(a made-up line of [pid 1]) = %v, want an error naming where the nearest process parted", err)
	}
}
