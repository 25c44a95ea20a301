package imagetar_test

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

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// Step 5's lesson (LESSONS.md) shows commands; this test runs every one of
// them, in the order shown, in one fresh directory, "sudo workshop" being
// the binary under test with its own state dir (which also stands in for
// /var/lib/workshop in the commands). The syscall lines the lesson shows
// after a workshop command must be among those it printed, in that order.

type lessonCommand struct {
	code   int
	stdout []string // what stdout must contain
	stderr []string // what stderr must contain
	before string   // runs first: the student's part
}

var step5Commands = map[string]lessonCommand{
	"tar cvf dockercontainer.tar my-new-root": {
		stdout: []string{"my-new-root/\n", "my-new-root/bin/bash\n"},
		// The root the student built by hand in step 2 (its lesson's commands).
		before: "mkdir -p my-new-root/bin my-new-root/lib/x86_64-linux-gnu my-new-root/lib64 && cp /bin/bash my-new-root/bin/ && " +
			"cp /lib/x86_64-linux-gnu/libtinfo.so.6 /lib/x86_64-linux-gnu/libc.so.6 my-new-root/lib/x86_64-linux-gnu/ && cp /lib64/ld-linux-x86-64.so.2 my-new-root/lib64/",
	},
	"mkdir container-root":                          {},
	"tar xf dockercontainer.tar -C container-root/": {},
	"ls container-root":                             {stdout: []string{"my-new-root\n"}},
	"unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot container-root bash": {
		code: 127, stderr: []string{"chroot: failed to run command 'bash': No such file or directory"},
	},
	"sudo workshop step 5 -- /bin/bash -c 'ls /'": {
		stdout: []string{"bin\n", "lib\n", "usr\n"},
		stderr: []string{"execve(\"/bin/bash\", [\"/bin/bash\", \"-c\", \"true\"], …) = -1 ENOENT", "its entries are ./, "},
	},
	"mkdir outside": {},
	"ln -s ../outside link && tar cf evil.tar link && rm link":                         {},
	"mkdir link && echo gotcha > link/file && tar rf evil.tar link/file && rm -r link": {},
	"tar tvf evil.tar":                                              {stdout: []string{"link -> ../outside\n", " link/file\n"}},
	"sudo workshop image import evil.tar evil":                      {},
	"sudo workshop image unpack evil evil-root":                     {},
	"ls -A outside":                                                 {},
	"cat evil-root/outside/file":                                    {stdout: []string{"gotcha\n"}},
	"sudo workshop image pack /var/lib/workshop/my-new-root demo:1": {stderr: []string{"image demo:1 is "}},
	"sudo workshop image import dockercontainer.tar walkthrough": {
		stderr: []string{"stripping my-new-root/"},
	},
	"sudo workshop image ls":                        {stdout: []string{"NAME", "demo          1 ", "evil          latest", "walkthrough   latest"}},
	"sudo workshop image export demo:1 demo.tar.gz": {},
	"sudo workshop image unpack demo:1 demo-root":   {},
	"ls demo-root":                          {stdout: []string{"bin\nlib\nlib64\nusr\n"}},
	"sudo workshop image tag demo:1 demo:2": {},
	"sudo workshop image rm demo:1":         {stdout: []string{"Untagged: demo:1\n"}},
	"chroot container-root /bin/bash -c 'echo it runs'": {
		stdout: []string{"it runs\n"},
		// The exercise, done as a student would.
		before: "rm -rf container-root dockercontainer.tar && tar -C my-new-root -cf dockercontainer.tar . && mkdir container-root && tar -xf dockercontainer.tar -C container-root/",
	},
	"sudo workshop lab 5 check": {stdout: []string{"ok    chroot container-root /bin/bash runs"}},
}

func TestLessonCommands(t *testing.T) {
	testbin.NeedRoot(t)
	section, err := lessons.Lesson(5)
	if err != nil {
		t.Fatal(err)
	}
	cmds := lessons.Commands(section)
	for _, c := range cmds {
		if _, ok := step5Commands[c]; !ok {
			t.Errorf("step 5's lesson shows `%s`, which this test does not know: add it to step5Commands", c)
		}
	}
	for c := range step5Commands {
		if !contains(cmds, c) {
			t.Errorf("step5Commands has `%s`, which the lesson no longer shows", c)
		}
	}
	dir, state := t.TempDir(), t.TempDir()
	shown := shownOutput(section)
	for _, c := range cmds {
		lc := step5Commands[c]
		if lc.before != "" {
			if r := runShell(t, dir, state, lc.before); r.Code != 0 {
				t.Fatalf("the student's part before `%s` failed: %d\n%s", c, r.Code, r.Stderr)
			}
		}
		r := runShell(t, dir, state, c)
		ok := r.Code == lc.code
		for _, w := range lc.stdout {
			ok = ok && strings.Contains(r.Stdout, w)
		}
		for _, w := range lc.stderr {
			ok = ok && strings.Contains(r.Stderr, w)
		}
		if !ok {
			t.Errorf("`%s` = %d, stdout %q, stderr:\n%s\nwant %d, stdout with %q, stderr with %q", c, r.Code, r.Stdout, r.Stderr, lc.code, lc.stdout, lc.stderr)
			continue
		}
		if strings.HasPrefix(c, "sudo workshop") {
			if err := checkShownSyscalls(shown[c], strings.ReplaceAll(r.Stderr, state, "/var/lib/workshop")); err != nil {
				t.Errorf("`%s`: %v\nit printed:\n%s", c, err, r.Stderr)
			}
		}
	}
}

// runShell runs a lesson's command line with bash in dir, as root: "sudo"
// is dropped, workshop is the binary under test with state as its state
// dir, and /var/lib/workshop is that state dir.
func runShell(t *testing.T, dir, state, line string) testbin.Result {
	t.Helper()
	line = strings.ReplaceAll(line, "/var/lib/workshop", state)
	line = strings.ReplaceAll(line, "sudo workshop", testbin.Bin(t)+" --state-dir "+state)
	line = strings.ReplaceAll(line, "sudo ", "")
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
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

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// shownOutput maps each command of the lesson's fenced blocks to the lines
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
	// What differs from run to run: numbers (pids, fds, sizes) and the
	// random suffix of a temporary directory.
	randomSuffix = regexp.MustCompile(`\.(unpack|new)-[0-9a-f]{12}`)
	digits       = regexp.MustCompile(`\d+`)
)

func normalize(l string) string {
	return digits.ReplaceAllString(randomSuffix.ReplaceAllString(l, ".$1-X"), "N")
}

// checkShownSyscalls checks that the syscall lines the lesson shows after
// a command are among those the command printed, in order.
func checkShownSyscalls(shown []string, got string) error {
	var printed []string
	for _, l := range strings.Split(got, "\n") {
		if syscallLine.MatchString(l) {
			printed = append(printed, normalize(l))
		}
	}
	j := 0
	for _, l := range shown {
		if !syscallLine.MatchString(l) {
			continue
		}
		want := normalize(l)
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
	printed := "mkdirat(AT_FDCWD, \"/s/.r.unpack-0123456789ab\", 0700) = 0\n==> note\nrenameat(AT_FDCWD, \"/s/.r.unpack-0123456789ab\", AT_FDCWD, \"/s/r\") = 0\n"
	ok := []string{"mkdirat(AT_FDCWD, \"/s/.r.unpack-ffffffffffff\", 0700) = 0", "renameat(AT_FDCWD, \"/s/.r.unpack-aaaaaaaaaaaa\", AT_FDCWD, \"/s/r\") = 0"}
	if err := checkShownSyscalls(ok, printed); err != nil {
		t.Errorf("checkShownSyscalls(what it printed) = %v", err)
	}
	for _, drift := range [][]string{
		{"renameat(AT_FDCWD, \"/s/.r.unpack-aaaaaaaaaaaa\", AT_FDCWD, \"/s/other\") = 0"},
		{"renameat(AT_FDCWD, \"/s/.r.unpack-aaaaaaaaaaaa\", AT_FDCWD, \"/s/r\") = 0", "mkdirat(AT_FDCWD, \"/s/.r.unpack-ffffffffffff\", 0700) = 0"},
	} {
		if err := checkShownSyscalls(drift, printed); err == nil {
			t.Errorf("checkShownSyscalls(%q) = nil, want the drift caught", drift)
		}
	}
}
