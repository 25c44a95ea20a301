package lddcopy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// The lessons of steps 1 and 2 (LESSONS.md) show commands; this test runs
// every one of them, in the order shown, in a fresh directory per step,
// "sudo workshop" being the binary under test with its own state dir. The
// syscall lines a lesson shows after a workshop command must be in what the
// command printed, in the same order (pids, fds, sizes and times aside).

// lessonCommand is what a command of the lesson must do.
type lessonCommand struct {
	stdin  string
	code   int
	stdout string // what stdout must contain
	stderr string // what stderr must contain
	// before runs first: the student's part (an exercise's solution).
	before string
}

var lessonCommands = map[int]map[string]lessonCommand{
	1: {
		"mkdir my-new-root":                                      {},
		"chroot my-new-root bash":                                {code: 127, stderr: "failed to run command"},
		"sudo workshop step 1":                                   {stderr: `execve("/bin/bash", ["bash"], …) = -1 ENOENT`},
		"sudo workshop step 1 --demo escape":                     {stdout: "\nusr\n"},
		"mkdir -p my-new-root/bin":                               {},
		"cp /bin/busybox my-new-root/bin/":                       {},
		"chroot my-new-root /bin/busybox ls /":                   {stdout: "bin\n"},
		"chroot my-new-root /bin/busybox sh -c 'cd ..; pwd; ls'": {stdout: "/\nbin\n"},
		"sudo workshop lab 1 check":                              {stdout: "Well done"},
	},
	2: {
		"ldd /bin/bash": {stdout: "libc.so.6 => "},
		"mkdir -p my-new-root/bin my-new-root/lib/x86_64-linux-gnu my-new-root/lib64":                              {},
		"cp /bin/bash my-new-root/bin/":                                                                            {},
		"cp /lib/x86_64-linux-gnu/libtinfo.so.6 /lib/x86_64-linux-gnu/libc.so.6 my-new-root/lib/x86_64-linux-gnu/": {},
		"cp /lib64/ld-linux-x86-64.so.2 my-new-root/lib64/":                                                        {},
		"chroot my-new-root bash":                                                                                  {stdin: "pwd\n", stdout: "/\n"},
		"sudo workshop step 2 -- /bin/bash -c pwd":                                                                 {stdout: "/\n"},
		"sudo workshop step 2 --bin ls --bin cat -- /bin/ls /":                                                     {stdout: "bin\nlib\nlib64\nusr\n"},
		"chroot my-new-root ls /": {stdout: "bin\nlib\nlib64\n",
			// The exercise, done as a student would: ls and what ldd lists.
			before: `cp /bin/ls my-new-root/bin/ && for f in $(ldd /bin/ls | grep -o '/[^ ]*'); do cp --parents "$f" my-new-root/; done`},
		"sudo workshop lab 2 check": {stdout: "ok"},
	},
}

func TestLessonCommands(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "busybox")
	for step := 1; step <= 2; step++ {
		section, err := lessons.Lesson(step)
		if err != nil {
			t.Fatal(err)
		}
		cmds := lessons.Commands(section)
		want := lessonCommands[step]
		for _, c := range cmds {
			if _, ok := want[c]; !ok {
				t.Errorf("step %d's lesson shows `%s`, which this test does not know: add it to lessonCommands", step, c)
			}
		}
		for c := range want {
			if !contains(cmds, c) {
				t.Errorf("lessonCommands has `%s`, which step %d's lesson no longer shows", c, step)
			}
		}
		dir, state := t.TempDir(), t.TempDir()
		shown := shownOutput(section)
		for _, c := range cmds {
			lc, ok := want[c]
			if !ok {
				continue
			}
			if lc.before != "" {
				if r := runShell(t, dir, state, lc.before, ""); r.Code != 0 {
					t.Fatalf("the exercise's solution failed: %d\n%s", r.Code, r.Stderr)
				}
			}
			r := runShell(t, dir, state, c, lc.stdin)
			if r.Code != lc.code || !strings.Contains(r.Stdout, lc.stdout) || !strings.Contains(r.Stderr, lc.stderr) {
				t.Errorf("step %d's `%s` = %d, stdout %q, stderr:\n%s\nwant %d, stdout with %q, stderr with %q", step, c, r.Code, r.Stdout, r.Stderr, lc.code, lc.stdout, lc.stderr)
				continue
			}
			if strings.HasPrefix(c, "sudo workshop step") {
				if err := checkShownSyscalls(shown[c], strings.ReplaceAll(r.Stderr, state, "/var/lib/workshop")); err != nil {
					t.Errorf("step %d's `%s`: %v\nit printed:\n%s", step, c, err, r.Stderr)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// runShell runs a lesson's command line with bash in dir, as root: "sudo"
// is dropped, and workshop is the binary under test with state as its state
// dir.
func runShell(t *testing.T, dir, state, line, stdin string) testbin.Result {
	t.Helper()
	line = strings.ReplaceAll(line, "sudo workshop", testbin.Bin(t)+" --state-dir "+state)
	line = strings.ReplaceAll(line, "sudo ", "")
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bash -c %q: %v", line, err)
	}
	return testbin.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// shownOutput maps each command of a lesson's fenced blocks to the lines
// shown after it.
func shownOutput(section string) map[string][]string {
	shown := map[string][]string{}
	inBlock, cur := false, ""
	for _, l := range strings.Split(section, "\n") {
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
	digits      = regexp.MustCompile(`\d+`)
)

// checkShownSyscalls checks that the syscall lines the lesson shows after a
// command are among those the command printed, in order. Numbers (pids,
// fds, sizes, inodes, times) differ from run to run and are not compared.
func checkShownSyscalls(shown []string, got string) error {
	var printed []string
	for _, l := range strings.Split(got, "\n") {
		if syscallLine.MatchString(l) {
			printed = append(printed, digits.ReplaceAllString(l, "N"))
		}
	}
	j := 0
	for _, l := range shown {
		if !syscallLine.MatchString(l) {
			continue
		}
		want := digits.ReplaceAllString(l, "N")
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
	printed := "chroot(\"/r\") = 0\n==> note\n[pid 12] chdir(\"/\") = 0\n[pid 12] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)\n"
	ok := []string{"[pid 4607] chdir(\"/\") = 0", "…", "[pid 4607] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)"}
	if err := checkShownSyscalls(ok, printed); err != nil {
		t.Errorf("checkShownSyscalls(lines it printed) = %v", err)
	}
	for _, drift := range [][]string{
		{"[pid 1] execve(\"/bin/sh\", [\"sh\"], …) = -1 ENOENT (No such file or directory)"},
		{"[pid 1] execve(\"/bin/bash\", [\"bash\"], …) = 0"},
		{"[pid 1] chdir(\"/\") = 0", "chroot(\"/r\") = 0"}, // order
	} {
		if err := checkShownSyscalls(drift, printed); err == nil {
			t.Errorf("checkShownSyscalls accepted %q, which was not printed so", drift)
		}
	}
}
