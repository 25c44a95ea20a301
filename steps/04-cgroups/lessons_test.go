package cgroups_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
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
	// typed: the command starts an interactive bash, which runs on a
	// terminal, as the student's does: these are typed at its prompts,
	// and the terminal must show the lines of screen, in order.
	typed  []string
	screen []string
	code   int
	stdout string // what stdout must contain
	stderr string // what stderr must contain
	// oneOf, when set: stdout must be one of these, whole.
	oneOf []string
}

const runV = "sudo workshop step 4 --memory 80M --pids 64 --cpus 0.5 -- /bin/bash -c 'echo hello from a cgroup'"

var lessonCommands = map[string]map[string]lessonCommand{
	"": { // the parts every layout runs
		// A hybrid or v1 machine's tmpfs of hierarchies, or v2's one tree.
		"stat -fc %T /sys/fs/cgroup": {oneOf: []string{"tmpfs\n", "cgroup2fs\n"}},
		"sudo workshop step 4 --memory 30M --pids 64 --cpus 0.5 --timeout 10s -- cat /proc/self/cgroup": {stdout: ":/\n"},
		"sudo workshop step 4 --memory 80M -- /bin/bash":                                                {typed: []string{"echo $$"}, screen: []string{"bash-5.2# echo $$", "1", "bash-5.2# exit"}},
		"sudo workshop step 4 --demo forkbomb":                                                          {stderr: "==> the fork bomb was contained: pids.max held it to at most 64 processes at a time and refused "},
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
		var known []string
		for c := range lessonCommands[part] {
			known = append(known, c)
		}
		lessontest.Coverage(t, "step 4's lesson", text, known)
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
		shown := lessontest.Shown(text)
		for _, c := range lessons.Commands(text) {
			lc, ok := lessonCommands[part][c]
			if !ok {
				continue
			}
			if lc.typed != nil {
				screen, code := lessontest.Typed(t, t.TempDir(), state, c, lc.typed...)
				if missing, lacks := lessontest.Lacks(screen, lc.screen); code != lc.code || lacks {
					t.Errorf("`%s` on a terminal = exit %d, want %d; no line %q where it should be:\n%s", c, code, lc.code, missing, screen)
				}
				continue
			}
			r := lessontest.Shell(t, t.TempDir(), state, c)
			wantStdout := lc.stdout
			if strings.Contains(c, "exit status $?") {
				if !strings.HasSuffix(r.Stdout, exitStatusShown) {
					t.Errorf("`%s` printed %q, want it to end in %q", c, r.Stdout, exitStatusShown)
				}
			} else if r.Code != lc.code {
				t.Errorf("`%s` = exit %d, want %d; stdout %q, stderr:\n%s", c, r.Code, lc.code, r.Stdout, r.Stderr)
				continue
			}
			if !strings.Contains(r.Stdout, wantStdout) || !strings.Contains(r.Stderr, lc.stderr) || lc.oneOf != nil && !slices.Contains(lc.oneOf, r.Stdout) {
				t.Errorf("`%s`: stdout %q, stderr:\n%s\nwant stdout with %q (or one of %q), stderr with %q", c, r.Stdout, r.Stderr, wantStdout, lc.oneOf, lc.stderr)
				continue
			}
			if c == runV {
				// What the lesson's excerpt of this layout is taken from.
				t.Logf("`%s` printed:\n%s%s", c, r.Stderr, r.Stdout)
			}
			if strings.HasPrefix(c, "sudo workshop step") {
				if err := lessontest.CheckNarration(shown[c], r.Stderr); err != nil {
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
