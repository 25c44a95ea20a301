package cgroups_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

// Step 4's lesson (LESSONS.md) shows commands; this test runs every one of
// them in the order shown, "sudo workshop" being the binary under test with
// its own state dir. The by-hand commands of the v1 part run on a v1 or
// hybrid machine, those of the v2 part on v2 (the test VM): CI runs both.
// The syscall lines the lesson shows after a workshop command must be in
// what the command printed, in the same order (numbers and container ids
// aside).

// The parts of the lesson that only one layout can run.
const (
	v1Part = "cgroup v1 (and hybrid), as the walkthrough does it"
	v2Part = "cgroup v2, the same by hand"
)

// lessonCommand is what a command of the lesson must do.
type lessonCommand struct {
	stdin  string
	code   int
	stdout string // what stdout must contain
	stderr string // what stderr must contain
}

const runV = "sudo workshop step 4 --memory 80M --pids 64 --cpus 0.5 -- /bin/bash -c 'echo hello from a cgroup'"

var lessonCommands = map[string]map[string]lessonCommand{
	"": { // the parts every layout runs
		"stat -fc %T /sys/fs/cgroup": {stdout: "fs"},
		"sudo workshop step 4 --memory 30M --pids 64 --cpus 0.5 --timeout 10s -- cat /proc/self/cgroup": {stdout: ":/\n"},
		"sudo workshop step 4 --memory 80M -- /bin/bash":                                                {stdin: "echo $$\n", stdout: "1\n"},
		"sudo workshop step 4 --demo forkbomb":                                                          {stderr: "==> the fork bomb was contained: pids.max held it to 64 processes and refused "},
		`sudo workshop step 4 --demo memhog; echo "exit status $?"`:                                     {stdout: "holding 1M of memory\n", stderr: "workshop: the container was killed by its memory limit (--memory 80M)"},
	},
	v1Part: {
		"cgcreate -g cpu,memory,blkio,devices,freezer:/sandbox":                                                  {},
		"ls -d /sys/fs/cgroup/memory/sandbox":                                                                    {stdout: "/sys/fs/cgroup/memory/sandbox\n"},
		"cgset -r memory.limit_in_bytes=80M sandbox":                                                             {},
		"cat /sys/fs/cgroup/memory/sandbox/memory.limit_in_bytes":                                                {stdout: "83886080\n"},
		"cgclassify -g cpu,memory,blkio,devices,freezer:sandbox $$; grep -o 'memory:/sandbox' /proc/self/cgroup": {stdout: "memory:/sandbox\n"},
		"rmdir /sys/fs/cgroup/cpu/sandbox /sys/fs/cgroup/memory/sandbox /sys/fs/cgroup/blkio/sandbox /sys/fs/cgroup/devices/sandbox /sys/fs/cgroup/freezer/sandbox": {},
		runV: {stdout: "hello from a cgroup\n", stderr: "this machine's cgroups are "},
	},
	v2Part: {
		"echo +memory > /sys/fs/cgroup/cgroup.subtree_control":                 {},
		"mkdir /sys/fs/cgroup/sandbox":                                         {},
		"echo 80M > /sys/fs/cgroup/sandbox/memory.max":                         {},
		"cat /sys/fs/cgroup/sandbox/memory.max":                                {stdout: "83886080\n"},
		"echo $$ > /sys/fs/cgroup/sandbox/cgroup.procs; cat /proc/self/cgroup": {stdout: "0::/sandbox\n"},
		"rmdir /sys/fs/cgroup/sandbox":                                         {},
		runV:                                                                   {stdout: "hello from a cgroup\n", stderr: "this machine's cgroups are cgroup v2"},
	},
}

// exitStatusShown: the memory hog's shell line prints its status.
const exitStatusShown = "exit status 137\n"

func TestLessonCommands(t *testing.T) {
	testbin.NeedRoot(t)
	mode, err := cgroups.Detect()
	if err != nil {
		t.Fatal(err)
	}
	section, err := lessons.Lesson(4)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	rest := section
	for _, p := range []string{v1Part, v2Part} {
		text, err := lessons.Subsection(4, p)
		if err != nil {
			t.Fatal(err)
		}
		parts[p] = text
		rest = strings.Replace(rest, text, "", 1)
	}
	parts[""] = rest

	mine := v1Part
	if mode == cgroups.V2 {
		mine = v2Part
	}
	for part, text := range parts {
		cmds := lessons.Commands(text)
		want := lessonCommands[part]
		for _, c := range cmds {
			if _, ok := want[c]; !ok {
				t.Errorf("step 4's lesson shows `%s`, which this test does not know: add it to lessonCommands", c)
			}
		}
		for c := range want {
			if !contains(cmds, c) {
				t.Errorf("lessonCommands has `%s`, which step 4's lesson no longer shows", c)
			}
		}
	}
	lockSandbox(t)
	for _, g := range []string{"/sys/fs/cgroup/sandbox", "/sys/fs/cgroup/memory/sandbox"} {
		if _, err := os.Stat(g); err == nil {
			t.Fatalf("%s exists already: this test makes its own sandbox group and will not touch one it did not make", g)
		}
	}
	t.Cleanup(removeSandbox)

	state := t.TempDir()
	for _, part := range []string{"", mine} {
		text := parts[part]
		shown := shownOutput(text)
		for _, c := range lessons.Commands(text) {
			lc, ok := lessonCommands[part][c]
			if !ok {
				continue
			}
			r := runLine(t, state, c, lc.stdin)
			wantStdout := lc.stdout
			if strings.Contains(c, "exit status $?") {
				if !strings.HasSuffix(r.Stdout, exitStatusShown) {
					t.Errorf("`%s` printed %q, want it to end in %q", c, r.Stdout, exitStatusShown)
				}
			} else if r.Code != lc.code {
				t.Errorf("`%s` = exit %d, want %d; stdout %q, stderr:\n%s", c, r.Code, lc.code, r.Stdout, r.Stderr)
				continue
			}
			if !strings.Contains(r.Stdout, wantStdout) || !strings.Contains(r.Stderr, lc.stderr) {
				t.Errorf("`%s`: stdout %q, stderr:\n%s\nwant stdout with %q, stderr with %q", c, r.Stdout, r.Stderr, wantStdout, lc.stderr)
				continue
			}
			if c == runV {
				// What the lesson's excerpt of this layout is taken from.
				t.Logf("`%s` printed:\n%s%s", c, r.Stderr, r.Stdout)
			}
			if strings.HasPrefix(c, "sudo workshop step") {
				if err := checkShownSyscalls(shown[c], r.Stderr); err != nil {
					t.Errorf("`%s`: %v\nit printed:\n%s", c, err, r.Stderr)
				}
			}
		}
	}
	for _, g := range []string{"/sys/fs/cgroup/sandbox", "/sys/fs/cgroup/memory/sandbox"} {
		if _, err := os.Stat(g); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the lesson's commands left %s behind", g)
		}
	}
}

// SandboxLock is the file every test that makes the lesson's `sandbox`
// cgroup holds an exclusive flock(2) on while the group exists (this one,
// and the lab's check of step 4): test packages run in parallel, and there is
// only one /sys/fs/cgroup.
const SandboxLock = "/tmp/workshop-test-sandbox-cgroup.lock"

func lockSandbox(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(SandboxLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("flock %s: %v", SandboxLock, err)
	}
	t.Cleanup(func() { f.Close() })
}

// removeSandbox removes what a failed run of the lesson left (the test
// checked that no sandbox group was there before it ran).
func removeSandbox() {
	os.Remove("/sys/fs/cgroup/sandbox")
	for _, c := range []string{"cpu", "memory", "blkio", "devices", "freezer"} {
		os.Remove("/sys/fs/cgroup/" + c + "/sandbox")
	}
}

// runLine runs a lesson's command line with bash, as root: "sudo workshop"
// is the binary under test with state as its state dir, and "sudo" is
// dropped (the lesson's other commands are typed in a root shell).
func runLine(t *testing.T, state, line, stdin string) testbin.Result {
	t.Helper()
	line = strings.ReplaceAll(line, "sudo workshop", testbin.Bin(t)+" --no-color --state-dir "+state)
	line = strings.ReplaceAll(line, "sudo ", "")
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bash -c %q: %v", line, err)
	}
	return testbin.Result{Stdout: out.String(), Stderr: strings.ReplaceAll(errb.String(), state, "/var/lib/workshop"), Code: code}
}

// shownOutput maps each command of a text's fenced blocks to the lines
// shown after it.
func shownOutput(text string) map[string][]string {
	shown := map[string][]string{}
	inBlock, cur := false, ""
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock, cur = !inBlock, ""
			continue
		}
		switch {
		case !inBlock:
		case strings.HasPrefix(l, "$ "):
			cur = strings.TrimSpace(l[2:])
		case cur != "":
			shown[cur] = append(shown[cur], l)
		}
	}
	return shown
}

var (
	syscallLine = regexp.MustCompile(`^(\[pid \d+\] )?[a-z_0-9]+\(.*\) = .*$`)
	containerID = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	digits      = regexp.MustCompile(`\d+`)
)

// normal is a syscall line with what differs between runs taken out:
// container ids first (they hold digits), then every number (pids, fds,
// sizes).
func normal(l string) string {
	return digits.ReplaceAllString(containerID.ReplaceAllString(l, "ID"), "N")
}

// checkShownSyscalls checks that the syscall lines the lesson shows after a
// command are among those the command printed, in order.
func checkShownSyscalls(shown []string, got string) error {
	var printed []string
	for _, l := range strings.Split(got, "\n") {
		if syscallLine.MatchString(l) {
			printed = append(printed, normal(l))
		}
	}
	j := 0
	for _, l := range shown {
		if !syscallLine.MatchString(l) {
			continue
		}
		want := normal(l)
		for j < len(printed) && printed[j] != want {
			j++
		}
		if j == len(printed) {
			return fmt.Errorf("the lesson shows %q, which the command did not print (or not in that order)", l)
		}
		j++
	}
	return nil
}

func TestCheckShownSyscallsCatchesDrift(t *testing.T) {
	printed := "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/0a1b2c3d4e5f\", 0755) = 0\n==> note\n" +
		"openat(AT_FDCWD, \"/sys/fs/cgroup/workshop/0a1b2c3d4e5f/pids.max\", O_WRONLY|O_CLOEXEC) = 5\nwrite(5, \"64\", 2) = 2\n"
	ok := []string{"mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/4e2a8c1d9b07\", 0755) = 0", "…", "write(3, \"64\", 2) = 2"}
	if err := checkShownSyscalls(ok, printed); err != nil {
		t.Errorf("checkShownSyscalls(lines it printed) = %v", err)
	}
	for _, drift := range [][]string{
		{"mkdirat(AT_FDCWD, \"/sys/fs/cgroup/sandbox/4e2a8c1d9b07\", 0755) = 0"},
		{"openat(AT_FDCWD, \"/sys/fs/cgroup/workshop/4e2a8c1d9b07/memory.max\", O_WRONLY|O_CLOEXEC) = 5"},
		{"write(5, \"64\", 2) = 2", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/4e2a8c1d9b07\", 0755) = 0"}, // order
	} {
		if err := checkShownSyscalls(drift, printed); err == nil {
			t.Errorf("checkShownSyscalls accepted %q, which was not printed so", drift)
		}
	}
}
