package namespaces_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Every command of step 3's lesson is run here, in the lesson's order, in
// one state directory (which is also the working directory, where the
// walkthrough keeps my-new-root), and what the lesson says of it is checked.

// lesson is a run of the lesson's commands.
type lesson struct {
	t     *testing.T
	state string
	// pid is the host pid of the process the lesson calls 4242: the
	// container the last commands started.
	pid int
	// shell is the walkthrough's unshare container, on a terminal, left
	// running for the exercise; shellShown is what the lesson shows of it.
	shell      *testbin.OnTerminal
	shellShown []string
	// bg is a workshop run the next command looks at.
	bg *testbin.Running
}

// rewrite turns a lesson line into one for this test: the tests run as
// root (no sudo), with this build of workshop and this state directory, and
// with the real pid for 4242.
func (l *lesson) rewrite(line string) string {
	line = strings.ReplaceAll(line, "sudo ", "")
	ws := testbin.Bin(l.t) + " --no-color --state-dir " + l.state + " "
	if strings.HasPrefix(line, "workshop ") {
		line = ws + strings.TrimPrefix(line, "workshop ")
	}
	return strings.ReplaceAll(line, "4242", strconv.Itoa(l.pid))
}

// sh runs a lesson line to its end.
func (l *lesson) sh(line string) testbin.Result {
	l.t.Helper()
	cmd := exec.Command("bash", "-c", l.rewrite(line))
	cmd.Dir = l.state
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("run %q: %v", line, err)
	}
	return testbin.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// onTerminal starts a lesson line on a terminal of its own, as a student
// types it, and leaves it running.
func (l *lesson) onTerminal(line string) *testbin.OnTerminal {
	l.t.Helper()
	return testbin.StartOnTerminal(l.t, "bash", "-c", "cd "+l.state+" && exec "+l.rewrite(line))
}

// start starts a lesson line and leaves it running; exec makes the command
// itself bash's process, so its children are the container.
func (l *lesson) start(line string) *testbin.Running {
	l.t.Helper()
	r := testbin.Start(l.t, l.state, "bash", "-c", "exec "+l.rewrite(line))
	return r
}

// prose runs what the lesson's prose tells the student to type beside a
// running container (l.pid): its exercise's look at a shell's namespaces,
// and its further reading's nsenter into the container, without and with
// its root (each with a command, for the interactive shell they start).
func (l *lesson) prose(text string) {
	t := l.t
	lessontest.InProse(t, text, "ls -l /proc/$$/ns")
	r := l.sh("ls -l /proc/$$/ns")
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"} {
		if !regexp.MustCompile(`(?m) ` + ns + ` -> '?` + ns + `:\[\d+\]'?$`).MatchString(r.Stdout) {
			t.Errorf("`ls -l /proc/$$/ns` = exit %d, no %s link:\n%s%s", r.Code, ns, r.Stdout, r.Stderr)
		}
	}
	lessontest.InProse(t, text, "sudo nsenter -t 4242 -a")
	var theirs []string
	for _, ns := range []string{"uts", "pid"} {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", l.pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		theirs = append(theirs, link)
	}
	// -a enters every namespace of the container's (the pid one for the
	// shell it starts), but not its root: the host's / is still where
	// paths start.
	r = l.sh("sudo nsenter -t 4242 -a sh -c 'readlink /proc/self/ns/uts /proc/self/ns/pid; echo /*'")
	if want := strings.Join(theirs, "\n") + "\n" + names("/"); r.Code != 0 || sortedLast(r.Stdout) != want {
		t.Errorf("nsenter -t PID -a = exit %d, %q; want the container's namespaces and the host's / (%q)\n%s", r.Code, r.Stdout, want, r.Stderr)
	}
	if !strings.Contains(text, "its root too with `-r -w`") {
		t.Errorf("the lesson no longer tells of nsenter's -r -w: its test runs it for nothing")
	}
	r = l.sh("sudo nsenter -t 4242 -a -r -w /bin/bash -c 'echo /*'")
	if want := names(filepath.Join(l.state, "my-new-root")); r.Code != 0 || sortedLast(r.Stdout) != want {
		t.Errorf("nsenter -t PID -a -r -w = exit %d, %q; want the container's root (%q)\n%s", r.Code, r.Stdout, want, r.Stderr)
	}
}

// sortedLast is out with the words of its last line sorted: echo /*
// sorts them by the locale's collation, names by their bytes.
func sortedLast(out string) string {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := strings.Fields(lines[len(lines)-1])
	slices.Sort(last)
	lines[len(lines)-1] = strings.Join(last, " ")
	return strings.Join(lines, "\n")
}

// names is what `echo /*` says of dir, as the root: its names but dot
// ones, each after a /, sorted by their bytes.
func names(dir string) string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, "/"+e.Name())
		}
	}
	return strings.Join(out, " ")
}

func (l *lesson) stopShell() {
	if l.shell == nil {
		return
	}
	l.shell.Master.Write([]byte("exit\r"))
	if code := l.shell.End(l.t, time.Minute); code != 0 {
		l.t.Errorf("the unshare shell exited %d after exit:\n%s", code, l.shell.Screen)
	}
	// The lesson's transcript: the prompt, echo $$ and 1, exit.
	if screen := lessontest.TerminalScreen(l.shell, ""); len(l.shellShown) > 0 {
		if missing, lacks := lessontest.Lacks(screen, l.shellShown); lacks {
			l.t.Errorf("the unshare shell's terminal lacks the lesson's line %q where it shows it:\n%s", missing, screen)
		}
	}
	l.shell = nil
}

func TestLessonCommands(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "bash")
	testbin.NeedTool(t, "unshare")
	testbin.NeedTool(t, "ps") // the lesson's `ps -o user,pid,args -C bash`
	text, err := lessons.Lesson(3)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	// Root of a user namespace mapped to host uid 100000 must be able to
	// enter the state directory (t.TempDir makes it 0700).
	testbin.Chmod(t, 0o755, filepath.Dir(state), state)
	l := &lesson{t: t, state: state}
	defer l.stopShell()

	const unshare = "sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root bash"
	runners := map[string]func(line string){
		unshare: func(line string) {
			// The root of step 2: bash and its libraries.
			if _, err := os.Stat(filepath.Join(state, "my-new-root", "bin", "bash")); err != nil {
				if r := l.sh("sudo workshop --quiet step 2 -- /bin/true"); r.Code != 0 {
					t.Fatalf("step 2 to fill my-new-root: %d\n%s", r.Code, r.Stderr)
				}
			}
			l.stopShell()
			// On a terminal, as the student types it: what the lesson
			// shows at the prompt is typed there (exit when the shell is
			// stopped: at the next unshare, or at the end).
			l.shell = l.onTerminal(line)
			l.shellShown = lessontest.Shown(text)[line]
			typed := lessontest.TypedAt(l.shellShown)
			if len(typed) != 2 || typed[0] != "echo $$" || typed[1] != "exit" {
				t.Fatalf("the lesson types %q in the unshare shell; this test types echo $$, then exit", typed)
			}
			at := l.shell.Screen.WaitMatch(t, lessontest.BashPromptRE, 0)
			l.shell.Master.Write([]byte("echo $$\r"))
			l.shell.Screen.WaitMatch(t, regexp.MustCompile(`\r\n1\r\n`), at)
			// unshare (bash's exec) forked the shell, PID 1.
			l.pid = testbin.ChildOf(t, l.shell.Cmd.Process.Pid)
		},
		"sudo workshop step 3 -- /bin/bash -c 'echo $$ $HOSTNAME'": func(line string) {
			r := l.sh(line)
			if f := strings.Fields(r.Stdout); r.Code != 0 || len(f) != 2 || f[0] != "1" || !strings.Contains(r.Stderr, fmt.Sprintf("sethostname(%q", f[1])) {
				t.Errorf("%s = %d, %q; want 0 and \"1 <hostname it set>\"; stderr:\n%s", line, r.Code, r.Stdout, r.Stderr)
			}
			// Every syscall line the lesson shows after this command was
			// printed by it, in that order (numbers and ids aside).
			printed := strings.ReplaceAll(r.Stderr, state, lessontest.StateInLessons)
			if err := lessontest.CheckNarration(lessontest.Shown(text)[line], printed); err != nil {
				t.Errorf("%s: %v\nit printed:\n%s", line, err, r.Stderr)
			}
			if !strings.Contains(r.Stderr, "namespace  workshop (pid ") {
				t.Errorf("%s: the narration lacks the namespace table the lesson shows:\n%s", line, r.Stderr)
			}
		},
		"sudo workshop step 3 --ns uts,pid -- /bin/bash -c 'echo $$'": func(line string) {
			r := l.sh(line)
			if r.Code != 0 || r.Stdout != "1\n" || strings.Contains(r.Stderr, "mount(") {
				t.Errorf("%s = %d, %q; want 0, 1 and no mount; stderr:\n%s", line, r.Code, r.Stdout, r.Stderr)
			}
		},
		"sudo workshop step 3": func(line string) {
			// On a terminal, as a student types it: the lesson's
			// transcript is typed at the shell's prompts and shown.
			shown := lessontest.Shown(text)[line]
			screen, code := lessontest.Typed(t, l.state, l.state, line, lessontest.TypedAt(shown)...)
			if missing, lacks := lessontest.Lacks(screen, shown); code != 0 || lacks {
				t.Errorf("%s on a terminal = %d, want 0; the lesson's line %q is not where it shows it:\n%s", line, code, missing, screen)
			}
		},
		"sudo workshop step 3 -- /bin/bash -c 'exit 3'; echo $?": func(line string) {
			if r := l.sh(line); r.Stdout != "3\n" {
				t.Errorf("%s printed %q, want 3", line, r.Stdout)
			}
		},
		`sudo workshop step 3 --map-users 100000:65536 -- /bin/bash -c 'echo "uid $UID inside"; read'`: func(line string) {
			l.bg = l.start(line)
			l.bg.Stdout.WaitFor(t, "uid 0 inside")
			l.pid = containerPid(l.bg)
		},
		"ps -o user,pid,args -C bash": func(line string) {
			r := l.sh(line)
			want := regexp.MustCompile(fmt.Sprintf(`(?m)^100000 +%d /bin/bash -c echo "uid \$UID inside"; read$`, l.pid))
			if !want.MatchString(r.Stdout) {
				t.Errorf("%s = %q, want a line %q", line, r.Stdout, want)
			}
			l.bg.Stdin.Write([]byte("\n"))
			if code := l.bg.Wait().Code; code != 0 {
				t.Errorf("the --map-users run exited %d; stderr:\n%s", code, l.bg.Stderr)
			}
		},
		"sudo workshop step 3 -- /bin/sleep 1000": func(line string) {
			l.bg = l.start(line)
			l.bg.Stderr.WaitFor(t, `[pid 1] execve("/bin/sleep", ["/bin/sleep", "1000"], …) = 0`)
			l.pid = containerPid(l.bg)
			// Ctrl-C (and a SIGINT to workshop, passed on) does nothing.
			l.bg.Cmd.Process.Signal(syscall.SIGINT)
			l.bg.Stderr.WaitFor(t, fmt.Sprintf("kill(%d, SIGINT) = 0", l.pid))
			if state := procStatus(t, l.pid, "State"); strings.HasPrefix(state, "Z") {
				t.Errorf("sleep as PID 1 died of SIGINT")
			}
			l.prose(text)
		},
		"sudo kill -KILL 4242": func(line string) {
			if r := l.sh(line); r.Code != 0 {
				t.Errorf("%s = %d: %s", line, r.Code, r.Stderr)
			}
			if code := l.bg.Wait().Code; code != 137 {
				t.Errorf("workshop exited %d after the SIGKILL, want 137; stderr:\n%s", code, l.bg.Stderr)
			}
		},
		"sudo workshop step 3 --init -- /bin/sleep 1000": func(line string) {
			// On a terminal, as the lesson's excerpt is, and stopped with
			// a Ctrl-C typed on it: the terminal's process group, the
			// child put in the foreground, the look at whose the terminal
			// is and the taking of it back are the lesson's lines.
			term := l.onTerminal(line)
			term.Out.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "1000"], …) = 0`)
			term.Out.WaitFor(t, "passes signals on to it and reaps zombies")
			// A second, as a student reading the lines takes, for the
			// looks at the terminal the lesson counts to be made.
			time.Sleep(time.Second)
			term.Master.Write([]byte{3}) // Ctrl-C
			if code := term.End(t, time.Minute); code != 130 {
				t.Errorf("%s ended with status %d after a Ctrl-C, want exit 130; it printed:\n%s", line, code, term.Out)
			}
			// The terminal shows ^C where the line after it starts.
			tidy := func(lines []string) []string {
				var out []string
				for _, s := range lines {
					out = append(out, strings.TrimPrefix(strings.TrimSuffix(s, "\r"), "^C"))
				}
				return out
			}
			printed := strings.Join(tidy(strings.Split(term.Out.String(), "\n")), "\n")
			if err := lessontest.CheckNarration(tidy(lessontest.Shown(text)[line]), printed); err != nil {
				t.Errorf("%s: %v\nit printed:\n%s", line, err, printed)
			}
			// Both looks are made once a tick, "about one every tenth of
			// a second", as the lesson's counts show (the foreground group
			// was read twice a tick).
			count := func(re string) int {
				m := regexp.MustCompile(re).FindStringSubmatch(printed)
				if m == nil {
					t.Fatalf("%s printed no count %s:\n%s", line, re, printed)
				}
				n, _ := strconv.Atoi(m[1])
				return n
			}
			pgrp, polls := count(`… (\d+) ioctl\(0, TIOCGPGRP, \[…\]\) calls? while it ran`), count(`… (\d+) ppoll\(\[\{fd=0, `)
			if pgrp < polls-2 || pgrp > polls+1 {
				t.Errorf("%s counted %d TIOCGPGRP looks and %d ppoll looks, want one of each a tick", line, pgrp, polls)
			}
		},
		`sudo ls -l /proc/*/root 2>/dev/null | grep "$PWD/my-new-root"`: func(line string) {
			r := l.sh(line)
			if want := fmt.Sprintf("/proc/%d/root -> %s/my-new-root", l.pid, state); !strings.Contains(r.Stdout, want) {
				t.Errorf("%s = %q, want a line with %q", line, r.Stdout, want)
			}
		},
		"grep NSpid /proc/4242/status": func(line string) {
			if r, want := l.sh(line), fmt.Sprintf("NSpid:\t%d\t1\n", l.pid); r.Stdout != want {
				t.Errorf("%s = %q, want %q", line, r.Stdout, want)
			}
		},
		"sudo ls -l /proc/4242/ns": func(line string) {
			if r := l.sh(line); !strings.Contains(r.Stdout, "mnt -> mnt:[") || !strings.Contains(r.Stdout, "pid -> pid:[") {
				t.Errorf("%s = %q, want the namespace links", line, r.Stdout)
			}
		},
		"cat /proc/4242/uid_map": func(line string) {
			if r := l.sh(line); strings.Join(strings.Fields(r.Stdout), " ") != "0 0 1" {
				t.Errorf("%s = %q, want 0 0 1", line, r.Stdout)
			}
		},
		"sudo workshop lab 3 check": func(line string) {
			r := l.sh(line)
			if r.Code != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("process %d has its own PID namespace", l.pid)) {
				t.Errorf("%s = %d, %q; want the exercise found done; stderr:\n%s", line, r.Code, r.Stdout, r.Stderr)
			}
			// Every line of the report the lesson shows, but for its pid
			// and the namespaces' inode numbers.
			nsID := regexp.MustCompile(`:\[\d+\]`)
			got := map[string]bool{}
			for _, g := range strings.Split(r.Stdout, "\n") {
				got[nsID.ReplaceAllString(lessontest.Normal(g, strconv.Itoa(l.pid)), ":[N]")] = true
			}
			for _, s := range lessontest.Shown(text)[line] {
				if !got[nsID.ReplaceAllString(lessontest.Normal(s, "4242"), ":[N]")] {
					t.Errorf("%s does not print the lesson's line %q; it printed:\n%s", line, s, r.Stdout)
				}
			}
		},
	}
	seen := map[string]bool{}
	for _, line := range lessons.Commands(text) {
		run, ok := runners[line]
		if !ok {
			t.Errorf("the lesson's command %q is run by no test: add it to TestLessonCommands", line)
			continue
		}
		seen[line] = true
		run(line)
	}
	for line := range runners {
		if !seen[line] {
			t.Errorf("TestLessonCommands runs %q, which the lesson no longer shows", line)
		}
	}
}
