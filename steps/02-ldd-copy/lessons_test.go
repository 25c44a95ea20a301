package lddcopy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// The lessons of steps 1 and 2 (LESSONS.md) show commands; this test runs
// every one of them, in the order shown, in a fresh directory per step,
// "sudo workshop" being the binary under test with its own state dir. The
// syscall lines a lesson shows after a workshop command must be in what the
// command printed, in the same order (pids, fds, sizes and times aside).

// lessonCommand is what a command of the lesson must do.
type lessonCommand struct {
	// typed: the command starts an interactive bash, which runs on a
	// terminal; the commands the lesson shows at its prompts are typed
	// there, and the terminal must show the lesson's lines, in order.
	typed  bool
	code   int
	stdout string // what stdout must contain
	stderr string // what stderr must contain
	// before runs first: the student's part (an exercise's solution).
	before string
}

var lessonCommands = map[int]map[string]lessonCommand{
	1: {
		"mkdir my-new-root":                                           {},
		"sudo chroot my-new-root bash":                                {code: 127, stderr: "failed to run command"},
		"sudo workshop step 1":                                        {stderr: `execve("/bin/bash", ["bash"], …) = -1 ENOENT`},
		"sudo workshop step 1 --demo escape":                          {stdout: "\nusr\n"},
		"mkdir -p my-new-root/bin":                                    {},
		"cp /bin/busybox my-new-root/bin/":                            {},
		"sudo chroot my-new-root /bin/busybox ls /":                   {stdout: "bin\n"},
		"sudo chroot my-new-root /bin/busybox sh -c 'cd ..; pwd; ls'": {stdout: "/\nbin\n"},
		"sudo workshop lab 1 check":                                   {stdout: "Well done"},
	},
	2: {
		// The lines the lesson's cp commands take their paths from.
		"ldd /bin/bash": {stdout: "\tlibtinfo.so.6 => /lib/x86_64-linux-gnu/libtinfo.so.6 (0x"},
		"mkdir -p my-new-root/bin my-new-root/lib/x86_64-linux-gnu my-new-root/lib64":                              {},
		"cp /bin/bash my-new-root/bin/":                                                                            {},
		"cp /lib/x86_64-linux-gnu/libtinfo.so.6 /lib/x86_64-linux-gnu/libc.so.6 my-new-root/lib/x86_64-linux-gnu/": {},
		"cp /lib64/ld-linux-x86-64.so.2 my-new-root/lib64/":                                                        {},
		"sudo chroot my-new-root bash":                                                                             {typed: true},
		"sudo workshop step 2 -- /bin/bash -c pwd":                                                                 {stdout: "/\n"},
		"sudo workshop step 2 --bin ls --bin cat -- /bin/ls /":                                                     {stdout: "bin\nlib\nlib64\nusr\n"},
		"sudo chroot my-new-root ls /": {stdout: "bin\nlib\nlib64\n",
			// The exercise, done as a student would: ls and what ldd lists.
			before: `cp /bin/ls my-new-root/bin/ && for f in $(ldd /bin/ls | grep -o '/[^ ]*'); do cp --parents "$f" my-new-root/; done`},
		"sudo workshop lab 2 check": {stdout: "Well done: the exercise is complete."},
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
		var known []string
		for c := range want {
			known = append(known, c)
		}
		lessontest.Coverage(t, fmt.Sprintf("step %d's lesson", step), section, known)
		dir, state := t.TempDir(), t.TempDir()
		shown := lessontest.Shown(section)
		for _, c := range cmds {
			lc, ok := want[c]
			if !ok {
				continue
			}
			if lc.before != "" {
				if r := lessontest.Shell(t, dir, state, lc.before); r.Code != 0 {
					t.Fatalf("the exercise's solution failed: %d\n%s", r.Code, r.Stderr)
				}
			}
			if lc.typed {
				screen, code := lessontest.Typed(t, dir, state, c, lessontest.TypedAt(shown[c])...)
				if missing, lacks := lessontest.Lacks(screen, shown[c]); code != lc.code || lacks {
					t.Errorf("step %d's `%s` on a terminal = %d, want %d; the lesson's line %q is not where it shows it:\n%s", step, c, code, lc.code, missing, screen)
				}
				continue
			}
			r := lessontest.Shell(t, dir, state, c)
			if r.Code != lc.code || !strings.Contains(r.Stdout, lc.stdout) || !strings.Contains(r.Stderr, lc.stderr) {
				t.Errorf("step %d's `%s` = %d, stdout %q, stderr:\n%s\nwant %d, stdout with %q, stderr with %q", step, c, r.Code, r.Stdout, r.Stderr, lc.code, lc.stdout, lc.stderr)
				continue
			}
			if strings.HasPrefix(c, "sudo workshop step") {
				if err := lessontest.CheckNarration(shown[c], r.Stderr); err != nil {
					t.Errorf("step %d's `%s`: %v\nit printed:\n%s", step, c, err, r.Stderr)
				}
			}
		}
	}
}

// Step 1's text tells the student to run the empty root's chroot under
// `strace -f` to see each execve of the PATH fail: run, and seen.
func TestLessonStraceOfTheEmptyRoot(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "strace")
	text, err := lessons.Lesson(1)
	if err != nil {
		t.Fatal(err)
	}
	lessontest.InProse(t, text, "strace -f")
	dir := t.TempDir()
	r := lessontest.Shell(t, dir, t.TempDir(), "mkdir my-new-root && strace -f chroot my-new-root bash")
	// chroot(1) tries bash in each directory of its PATH (this test's).
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		tried := regexp.MustCompile(`(?m)^(?:\d+ +)?execve\("` + regexp.QuoteMeta(filepath.Join(dir, "bash")) + `", \["bash"\], .*\) = -1 ENOENT \(No such file or directory\)$`)
		if !tried.MatchString(r.Stderr) {
			t.Errorf("strace -f chroot my-new-root bash = exit %d, no failed execve of %s:\n%s", r.Code, filepath.Join(dir, "bash"), r.Stderr)
		}
	}
}
