package container_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// Every command of step 6's lesson is run here, in the lesson's order: the
// by-hand overlay and pivot_root in a scratch directory, the workshop
// commands with this build and a state directory of the test's own (shown
// in the lesson as /var/lib/workshop), the ones "in a second terminal"
// while the container they look at runs. What the lesson shows of each is
// checked; for a workshop run, the narration lines it shows must be in what
// the run printed, in order, and a block of them between two "…" lines must
// be printed as one block, nothing left out.

// lesson6 is a run of the lesson's commands.
type lesson6 struct {
	t    *testing.T
	h    *host
	work string // the by-hand part's directory
	bg   *testbin.Running
	// term is the lab's container, left open on a terminal of its own
	// (the student's first terminal) while the next commands look at it.
	term *testbin.OnTerminal
	pid  int    // the host pid the lesson calls 4242
	id   string // the container the commands look at
}

// rewrite turns a lesson line into one for this test, as lessontest.Shell
// does: root already (no sudo), this build of workshop, this state
// directory; and the real pid for 4242.
func (l *lesson6) rewrite(line string) string {
	line = strings.ReplaceAll(line, "sudo workshop ", testbin.Bin(l.t)+" --no-color --state-dir "+l.h.state+" ")
	line = strings.ReplaceAll(line, "sudo ", "")
	line = strings.ReplaceAll(line, "/var/lib/workshop", l.h.state)
	return strings.ReplaceAll(line, "4242", strconv.Itoa(l.pid))
}

// sh runs a lesson line to its end, as lessontest.Shell does (the state
// directory reads as the lesson's /var/lib/workshop in the narration), with
// the real pid for 4242.
func (l *lesson6) sh(line string) testbin.Result {
	l.t.Helper()
	line = strings.ReplaceAll(line, "4242", strconv.Itoa(l.pid))
	return lessontest.Shell(l.t, l.work, l.h.state, line)
}

// start starts a lesson line and leaves it running (a first terminal).
func (l *lesson6) start(line string) *testbin.Running {
	l.t.Helper()
	return testbin.Start(l.t, l.work, "bash", "-c", "exec "+l.rewrite(line))
}

// ok runs a line that must succeed and print exactly want.
func (l *lesson6) ok(line, want string) testbin.Result {
	l.t.Helper()
	r := l.sh(line)
	if r.Code != 0 || r.Stdout != want {
		l.t.Errorf("`%s` = exit %d, stdout %q; want 0 and %q\nstderr:\n%s", line, r.Code, r.Stdout, want, r.Stderr)
	}
	return r
}

// startContainer starts a lesson's container line, waits until its command
// runs, and makes it the one the next commands look at.
func (l *lesson6) startContainer(line, execved string) {
	l.t.Helper()
	l.bg = l.start(line)
	l.id = containerLine.FindStringSubmatch(l.bg.Stderr.WaitFor(l.t, "==> container "))[1]
	m := childPid.FindStringSubmatch(l.bg.Stderr.WaitFor(l.t, "==> the child is pid "))
	l.pid, _ = strconv.Atoi(m[1])
	l.bg.Stderr.WaitFor(l.t, execved)
}

var (
	childPid = regexp.MustCompile(`==> the child is pid (\d+) on the host`)
	// A whiteout as `ls -l` shows it: coreutils pads "root root 0, 0",
	// busybox (the test VM's ls) "root     root        0,   0".
	whiteout = regexp.MustCompile(`(?m)^c--------- +\d+ +root +root +0, +0 .* (\S+)$`)
	// The prompt of the base image's sh as root, at a line's start:
	// dash's "# ", or busybox's "/ # " (the test VM's sh is busybox's).
	shPrompt = regexp.MustCompile(`(^|\n)(/\S* )?# `)
	// What either says of a fork that failed.
	cannotFork = regexp.MustCompile(`(?i)can(no|')t fork[^\n]*\n`)
	lessonRun  = "sudo workshop full run --name hello --memory 80M --pids 64 --hostname box -- /bin/sh -c 'echo hi; hostname'"
)

func TestLessonCommands(t *testing.T) {
	h := newHost(t)
	testbin.NeedTool(t, "bash")
	testbin.NeedTool(t, "busybox")
	testbin.NeedTool(t, "unshare")
	text, err := lessons.Lesson(6)
	if err != nil {
		t.Fatal(err)
	}
	l := &lesson6{t: t, h: h, work: t.TempDir()}
	t.Cleanup(func() { unix.Unmount(filepath.Join(l.work, "merged"), unix.MNT_DETACH) })
	shown := lessontest.Shown(text)

	runners := map[string]func(line string){
		"mkdir -p lower/bin lower/etc upper work merged":                                     func(line string) { l.ok(line, "") },
		"cp /bin/busybox lower/bin/":                                                         func(line string) { l.ok(line, "") },
		"echo from the image > lower/etc/motd":                                               func(line string) { l.ok(line, "") },
		"echo bye > lower/etc/gone":                                                          func(line string) { l.ok(line, "") },
		"sudo mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged": func(line string) { l.ok(line, "") },
		"ls merged/etc": func(line string) { l.ok(line, "gone\nmotd\n") },
		"echo changed | sudo tee merged/etc/motd": func(line string) { l.ok(line, "changed\n") },
		"sudo rm merged/etc/gone":                 func(line string) { l.ok(line, "") },
		"cat lower/etc/motd":                      func(line string) { l.ok(line, "from the image\n") },
		"ls -l upper/etc": func(line string) {
			r := l.ok(line, l.sh(line).Stdout)
			if m := whiteout.FindStringSubmatch(r.Stdout); m == nil || m[1] != "gone" || !strings.HasSuffix(r.Stdout, " motd\n") {
				t.Errorf("`%s` = %q; want the whiteout gone (c--------- 0, 0) and the copied-up motd", line, r.Stdout)
			}
			if b, err := os.ReadFile(filepath.Join(l.work, "lower", "etc", "gone")); err != nil || string(b) != "bye\n" {
				t.Errorf("rm merged/etc/gone changed the lower layer: %q, %v", b, err)
			}
		},
		`sudo unshare --mount --fork sh -c 'cd merged && mkdir .oldroot && pivot_root . .oldroot && /bin/busybox umount -l /.oldroot && /bin/busybox rmdir /.oldroot && exec /bin/busybox sh -c "cd /../../..; /bin/busybox pwd; /bin/busybox ls"'`: func(line string) {
			l.ok(line, "/\nbin\netc\n")
		},
		"sudo umount merged": func(line string) {
			l.ok(line, "")
			if m := testbin.MountsUnder(t, l.work); len(m) > 0 {
				t.Errorf("the by-hand part left mounts: %q", m)
			}
		},
		lessonRun: func(line string) {
			// The base image made first, as README's scripts/demo made it
			// for the student: the lesson shows a run that finds it (one
			// that makes it prints step 2's copy before).
			if r := h.full("--quiet", "--", "/bin/true"); r.Code != 0 {
				t.Fatalf("making the base image: exit %d\n%s", r.Code, r.Stderr)
			}
			r := l.sh(line)
			if r.Code != 0 || r.Stdout != "hi\nbox\n" {
				t.Fatalf("`%s` = exit %d, stdout %q\n%s", line, r.Code, r.Stdout, r.Stderr)
			}
			if cgroupLayout(t) == "v2" {
				// The lesson shows a hybrid machine's cgroup files and the
				// clone that precedes the cgroup.procs write; on v2 the
				// rest of what it shows must be there as shown, and the v2
				// way of the same limits instead.
				if err := checkShown(cutForV2(shown[line]), dropV2Cgroup(r.Stderr)); err != nil {
					t.Errorf("`%s` (v2: the lesson's lines but its cgroup and clone ones): %v\nit printed:\n%s", line, err, r.Stderr)
				}
				checkV2Cgroup(t, line, startedOf(t, r.Stderr).ID, r.Stderr)
			} else if err := checkShown(shown[line], r.Stderr); err != nil {
				t.Errorf("`%s`: %v\nit printed:\n%s", line, err, r.Stderr)
			}
			h.nothingLeft(startedOf(t, r.Stderr).ID)
			// What the text tells the student to read inside such a
			// container: the limit step 4 wrote, read-only.
			limit := map[string]string{"v1": "cat /sys/fs/cgroup/memory/memory.limit_in_bytes", "v2": "cat /sys/fs/cgroup/memory.max"}[cgroupLayout(t)]
			lessontest.InProse(t, text, limit)
			file := strings.TrimPrefix(limit, "cat ")
			r = h.full("--quiet", "--memory", "80M", "--", "/bin/sh", "-c", limit+"; echo 1 > "+file)
			if r.Code == 0 || r.Stdout != "83886080\n" || !strings.Contains(r.Stderr, "Read-only file system") {
				t.Errorf("`%s` in a container of --memory 80M, then a write = exit %d, %q, stderr %q; want 83886080, and the write refused", limit, r.Code, r.Stdout, r.Stderr)
			}
		},
		"sudo workshop full run --name sleeper --memory 80M -- /bin/sleep 1000": func(line string) {
			l.startContainer(line, `[pid 1] execve("/bin/sleep", ["/bin/sleep", "1000"], …) = 0`)
		},
		"sudo workshop ps": func(line string) {
			r := l.sh(line)
			row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s +sleeper +base:latest +%d +/bin/sleep 1000 +[0-9.]+[BKMG] +\S+$`, l.id, l.pid))
			if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ID            NAME     IMAGE        PID") || !row.MatchString(r.Stdout) {
				t.Errorf("`%s` = exit %d:\n%s\nwant the header and a row %s", line, r.Code, r.Stdout, row)
			}
		},
		"sudo workshop kill --signal TERM sleeper": func(line string) {
			r := l.ok(line, fmt.Sprintf("sent SIGTERM to container %s (pid %d)\n", l.id, l.pid))
			if err := checkShownPids(shown[line], r.Stderr, "31555", strconv.Itoa(l.pid)); err != nil {
				t.Errorf("`%s`: %v\nit printed:\n%s", line, err, r.Stderr)
			}
			// It says why nothing happens, as the lesson shows (with the
			// lesson's own id).
			const why = "==> the container's first process has no handler for SIGTERM, and a PID 1 drops such a signal (step 3's lesson): it goes on running; 'sudo workshop kill %s' sends SIGKILL, which it cannot ignore"
			if !strings.Contains(r.Stderr, fmt.Sprintf(why, l.id)) {
				t.Errorf("`%s` does not say that PID 1 drops SIGTERM:\n%s", line, r.Stderr)
			}
			if !slices.ContainsFunc(shown[line], func(s string) bool { return strings.HasPrefix(s, strings.Split(why, "%s")[0]) }) {
				t.Errorf("the lesson does not show what `%s` says of PID 1: %q", line, shown[line])
			}
			// sleep as PID 1 ignores it: the container still runs.
			if ps := l.sh("sudo workshop ps"); !strings.Contains(ps.Stdout, l.id) {
				t.Errorf("after `%s`, the container is gone:\n%s", line, ps.Stdout)
			}
		},
		"sudo workshop kill sleeper": func(line string) {
			r := l.ok(line, fmt.Sprintf("sent SIGKILL to container %s (pid %d)\n", l.id, l.pid))
			if err := checkShownPids(shown[line], r.Stderr, "31555", strconv.Itoa(l.pid)); err != nil {
				t.Errorf("`%s`: %v\nit printed:\n%s", line, err, r.Stderr)
			}
			if r := l.bg.Wait(); r.Code != 137 {
				t.Errorf("the sleeper's workshop exited %d after kill, want 137\n%s", r.Code, r.Stderr)
			}
			h.nothingLeft(l.id)
		},
		"sudo workshop full run --keep --name changer -- /bin/sh -c 'echo hello > /root/hello; echo more >> /etc/passwd; rm /etc/group'": func(line string) {
			l.ok(line, "")
		},
		"sudo workshop diff changer": func(line string) {
			if len(shown[line]) == 0 {
				t.Errorf("the lesson shows no output of `%s`", line)
			}
			l.ok(line, strings.Join(shown[line], "\n")+"\n")
		},
		"sudo workshop ps -a": func(line string) {
			r := l.sh(line)
			row := regexp.MustCompile(`(?m)^[0-9a-f]{12} +changer +base:latest +- +/bin/sh -c echo hello > /root… +- +- +ended, layer kept$`)
			if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ID            NAME     IMAGE        PID  COMMAND") || !row.MatchString(r.Stdout) {
				t.Errorf("`%s` = exit %d:\n%s\nwant the header and a row %s", line, r.Code, r.Stdout, row)
			}
			if len(shown[line]) != 2 || !row.MatchString(shown[line][1]) {
				t.Errorf("the lesson shows %q for `%s`, want the header and the row of changer", shown[line], line)
			}
		},
		"sudo ls -l /var/lib/workshop/containers/*/upper/etc": func(line string) {
			r := l.ok(line, l.sh(line).Stdout)
			if m := whiteout.FindStringSubmatch(r.Stdout); m == nil || m[1] != "group" || !strings.HasSuffix(r.Stdout, " passwd\n") {
				t.Errorf("`%s` = %q; want the whiteout group and passwd", line, r.Stdout)
			}
		},
		"sudo workshop full run --name lab6 -- /bin/sh": func(line string) {
			// On a terminal, as the student leaves it open: the shell is
			// interactive there, which the bonus's status depends on.
			l.term = testbin.StartOnTerminal(t, "bash", "-c", "cd "+l.work+" && exec "+l.rewrite(line))
			l.id = containerLine.FindStringSubmatch(l.term.Out.WaitFor(t, "==> container "))[1]
			m := childPid.FindStringSubmatch(l.term.Out.WaitFor(t, "==> the child is pid "))
			l.pid, _ = strconv.Atoi(m[1])
			l.term.Out.WaitFor(t, `[pid 1] execve("/bin/sh", ["/bin/sh"], …) = 0`)
		},
		"grep overlay /proc/mounts": func(line string) {
			r := l.sh(line)
			mine := regexp.MustCompile(strings.ReplaceAll(fmt.Sprintf(`(?m)^overlay STATE/containers/%s/rootfs overlay rw,.*lowerdir=STATE/images/[0-9a-f]{64}/rootfs,upperdir=STATE/containers/%[1]s/upper,workdir=STATE/containers/%[1]s/work.* 0 0$`, l.id), "STATE", regexp.QuoteMeta(l.h.state)))
			if r.Code != 0 || !mine.MatchString(r.Stdout) {
				t.Errorf("`%s` = exit %d:\n%s\nwant the line of container %s's root", line, r.Code, r.Stdout, l.id)
			}
			// "(`findmnt -t overlay` shows the same)"
			lessontest.InProse(t, text, "findmnt -t overlay")
			r = l.sh("findmnt -t overlay")
			if rootfs := filepath.Join(l.h.state, "containers", l.id, "rootfs"); r.Code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(rootfs)+` +overlay +overlay `).MatchString(r.Stdout) {
				t.Errorf("`findmnt -t overlay` = exit %d:\n%s\nwant the line of %s", r.Code, r.Stdout, rootfs)
			}
		},
		"cat /proc/4242/cgroup": func(line string) {
			if r := l.sh(line); r.Code != 0 || !strings.Contains(r.Stdout, ":/workshop/"+l.id+"\n") {
				t.Errorf("`%s` = exit %d, %q; want the container's group, /workshop/%s", line, r.Code, r.Stdout, l.id)
			}
		},
		"sudo workshop lab 6 check": func(line string) {
			// The exercise, done by hand as the lesson asks.
			l.ok(`echo hello > "$(grep overlay /proc/mounts | grep /var/lib/workshop/containers/ | cut -d' ' -f2)/from-the-host"`, "")
			// The layout decides the path, never a fallback: on a hybrid
			// host, a v2 path tried after a failed v1 one would be
			// /sys/fs/cgroup/pids.max, a new file on its tmpfs.
			set := `g=$(grep :pids: /proc/4242/cgroup | cut -d: -f3) && [ -n "$g" ] && echo 42 > /sys/fs/cgroup/pids$g/pids.max`
			if cgroupLayout(t) == "v2" {
				set = `g=$(grep ^0:: /proc/4242/cgroup | cut -d: -f3) && [ -n "$g" ] && [ "$g" != / ] && echo 42 > /sys/fs/cgroup$g/pids.max`
			}
			l.ok(set, "")
			at := l.term.Screen.WaitMatch(t, shPrompt, 0)
			l.term.Master.Write([]byte("cat /from-the-host\r"))
			l.term.Screen.WaitMatch(t, regexp.MustCompile(`\nhello\r\n`), at)
			r := l.sh(line)
			if r.Code != 0 {
				t.Errorf("`%s` = exit %d:\n%s%s", line, r.Code, r.Stdout, r.Stderr)
			}
			if len(shown[line]) < 4 {
				t.Errorf("the lesson shows %d lines after `%s`, want the check's report", len(shown[line]), line)
			}
			got := map[string]bool{}
			for _, g := range strings.Split(strings.ReplaceAll(r.Stdout, l.h.state, lessontest.StateInLessons), "\n") {
				got[lessontest.Normal(g, strconv.Itoa(l.pid))] = true
			}
			for _, s := range shown[line] {
				if cgroupLayout(t) == "v2" && strings.Contains(s, "pids.max") {
					continue // shown as on v1 and hybrid
				}
				if !got[lessontest.Normal(s, "4242")] {
					t.Errorf("`%s` does not print the lesson's line %q; it printed:\n%s", line, s, r.Stdout)
				}
			}
			// The bonus, typed at the shell's prompt: more processes than
			// pids.max lets in. The shell says it cannot fork and the loop
			// stops there, back at the prompt; `exit` then ends the
			// container, and workshop exits 2, the failed fork's status.
			at = l.term.Screen.WaitMatch(t, shPrompt, at)
			l.term.Master.Write([]byte("i=0; while [ $i -lt 50 ]; do sleep 100 & i=$((i+1)); done\r"))
			at = l.term.Screen.WaitMatch(t, cannotFork, at)
			l.term.Screen.WaitMatch(t, shPrompt, at)
			l.term.Master.Write([]byte("exit\r"))
			if code := l.term.End(t, 2*time.Minute); code != 2 {
				t.Errorf("the lab6 container, past its pids.max, exited %d after exit; want exit status 2:\n%s", code, l.term.Screen)
			}
			h.nothingLeft(l.id)
		},
	}
	known := make([]string, 0, len(runners))
	for line := range runners {
		known = append(known, line)
	}
	lessontest.Coverage(t, "step 6's lesson", text, known)
	for _, line := range lessons.Commands(text) {
		if run, ok := runners[line]; ok {
			run(line)
		}
	}
}

// cutForV2 turns the lines a lesson shows of a run on a hybrid machine into
// what a v2 machine must print of them: each line on a v1 cgroup file
// (with the write and close of it) and the clone (a clone3 into the
// cgroup on v2, after the cgroup was made) becomes a "…" cut, so that the
// rest is still checked block by block, in order.
func cutForV2(shown []string) []string {
	var out []string
	cut := func() {
		if len(out) == 0 || strings.TrimSpace(out[len(out)-1]) != "…" {
			out = append(out, "…")
		}
	}
	skipIO := false
	for _, l := range shown {
		switch {
		case strings.TrimSpace(l) == "…":
			cut()
			skipIO = false
		case strings.Contains(l, "/sys/fs/cgroup/"):
			cut()
			skipIO = strings.Contains(l, "openat(")
		case strings.HasPrefix(l, "clone("):
			cut()
			skipIO = false
		case skipIO && (fileIO.MatchString(l)):
			// the write and close of the cgroup file opened above
		default:
			skipIO = false
			out = append(out, l)
		}
	}
	return out
}

// dropV2Cgroup takes out of a v2 run's narration what it does for its
// cgroup, which checkV2Cgroup checks instead: v2 makes the group before the
// clone (between the overlay and the .oldroot of the lesson's first block),
// so the lesson's other lines are only compared without these: each line
// naming /sys/fs/cgroup (with the write and close of a file it opened) and
// the clone3 into the group.
func dropV2Cgroup(printed string) string {
	var out []string
	skipIO := false
	for _, l := range strings.Split(printed, "\n") {
		switch {
		case strings.Contains(l, "/sys/fs/cgroup"):
			skipIO = strings.HasPrefix(l, "openat(")
		case strings.HasPrefix(l, "clone3("):
			skipIO = false
		case skipIO && fileIO.MatchString(l):
		default:
			skipIO = false
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// checkV2Cgroup checks the lesson run's limits the v2 way: the group made
// in the v2 tree, memory.max and pids.max written (80M and 64), the child
// born in it by clone3 with CLONE_INTO_CGROUP (no cgroup.procs write), and
// the group removed at the end.
func checkV2Cgroup(t *testing.T, line, id, printed string) {
	t.Helper()
	dir := regexp.QuoteMeta("/sys/fs/cgroup/workshop/" + id)
	for what, re := range map[string]string{
		"the group made":              `(?m)^mkdirat\(AT_FDCWD, "` + dir + `", 0755\) = 0$`,
		"memory.max = 80M":            `(?m)^openat\(AT_FDCWD, "` + dir + `/memory\.max", O_WRONLY\|O_CLOEXEC\) = \d+\nwrite\(\d+, "83886080", 8\) = 8$`,
		"pids.max = 64":               `(?m)^openat\(AT_FDCWD, "` + dir + `/pids\.max", O_WRONLY\|O_CLOEXEC\) = \d+\nwrite\(\d+, "64", 2\) = 2$`,
		"the child born in the group": `(?m)^clone3\(\{flags=[A-Z_|]*CLONE_INTO_CGROUP[A-Z_|]*, exit_signal=SIGCHLD, cgroup=\d+\}, 88\) = \d+$`,
		"the group removed":           `(?m)^unlinkat\(AT_FDCWD, "` + dir + `", AT_REMOVEDIR\) = 0$`,
	} {
		if !regexp.MustCompile(re).MatchString(printed) {
			t.Errorf("`%s` on cgroup v2: %s is not narrated (want a match of %s)\nit printed:\n%s", line, what, re, printed)
		}
	}
	if regexp.MustCompile(`(?m)^openat\(AT_FDCWD, "[^"]*/cgroup\.procs"`).MatchString(printed) {
		t.Errorf("`%s` on cgroup v2 writes cgroup.procs: the child should be born in its group\n%s", line, printed)
	}
}

// cgroupLayout is "v2" on a cgroup v2 machine, "v1" otherwise (v1 or
// hybrid: the limits are in v1 hierarchies).
func cgroupLayout(t *testing.T) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	return "v1"
}

// fileIO is a write or close of a file a narrated openat gave.
var fileIO = regexp.MustCompile(`^(?:write|close)\(\d+`)

// checkShown checks the narration lines a lesson shows after a command
// against what the command printed (lessontest.CheckNarration); a lesson
// that shows none for a run of step 6 is wrong too.
func checkShown(shown []string, printed string) error {
	return checkShownPids(shown, printed, "", "")
}

// checkShownPids is checkShown for a command whose narration does not name
// the container's pid where a pid is looked for (workshop kill): the pid
// the lesson shows and the pid printed are given.
func checkShownPids(shown []string, printed, shownPid, printedPid string) error {
	if !slices.ContainsFunc(shown, lessontest.NarrationLine) {
		return fmt.Errorf("the lesson shows no narration for it")
	}
	return lessontest.CheckNarrationPids(shown, printed, shownPid, printedPid)
}

func TestCheckShownCatchesDrift(t *testing.T) {
	printed := `==> container 0123456789ab (x) from image base:latest (ba5eba11ba5e), unpacked once in /r
mkdirat(AT_FDCWD, "/c/0123456789ab/upper", 0755) = 0
mkdirat(AT_FDCWD, "/c/0123456789ab/work", 0755) = 0
clone(flags=CLONE_NEWNS|SIGCHLD) = 517
==> the child is pid 517 on the host; in its new PID namespace it is pid 1
openat(AT_FDCWD, "/sys/fs/cgroup/pids/workshop/0123456789ab/pids.max", O_WRONLY|O_CLOEXEC) = 5
write(5, "64", 2) = 2
close(5) = 0
openat(AT_FDCWD, "/sys/fs/cgroup/pids/workshop/0123456789ab/cgroup.procs", O_WRONLY|O_CLOEXEC) = 5
write(5, "517", 3) = 3
close(5) = 0
[pid 1] pivot_root("/r", "/r/.oldroot") = 0
hi
[pid 1] chdir("/") = 0
`
	ok := [][]string{
		{`==> container 9999999999ff (x) from image base:latest (0000000000aa), unpacked once in /r`, `mkdirat(AT_FDCWD, "/c/9999999999ff/upper", 0755) = 0`, "…"},
		{"…", `mkdirat(AT_FDCWD, "/c/9999999999ff/upper", 0755) = 0`, "…", `[pid 1] pivot_root("/r", "/r/.oldroot") = 0`, "hi", `[pid 1] chdir("/") = 0`},
		// Another run: another pid (of another length) and other fds.
		{"…", `clone(flags=CLONE_NEWNS|SIGCHLD) = 31555`, `==> the child is pid 31555 on the host; in its new PID namespace it is pid 1`, "…",
			`openat(AT_FDCWD, "/sys/fs/cgroup/pids/workshop/9999999999ff/cgroup.procs", O_WRONLY|O_CLOEXEC) = 7`, `write(7, "31555", 5) = 5`, `close(7) = 0`, "…"},
	}
	for _, s := range ok {
		if err := checkShown(s, printed); err != nil {
			t.Errorf("checkShown(%q) = %v", s, err)
		}
	}
	for _, drift := range [][]string{
		{`mkdirat(AT_FDCWD, "/c/0123456789ab/upper", 0755) = 0`, `[pid 1] pivot_root("/r", "/r/.oldroot") = 0`}, // a line left out without "…"
		{`[pid 1] chdir("/") = 0`, "…", `[pid 1] pivot_root("/r", "/r/.oldroot") = 0`},                          // order
		{`[pid 1] chdir("/") = -1 ENOENT (No such file or directory)`},                                          // result
		{`mkdirat(AT_FDCWD, "/c/0123456789ab/upper", 0700) = 0`},                                                // mode
		{`write(5, "65", 2) = 2`}, // limit
		{"hi"},                    // no narration at all
		// The first or the last line printed left out without a "…".
		{`mkdirat(AT_FDCWD, "/c/0123456789ab/upper", 0755) = 0`, "…"},
		{"…", `[pid 1] pivot_root("/r", "/r/.oldroot") = 0`},
	} {
		if err := checkShown(drift, printed); err == nil {
			t.Errorf("checkShown(%q) = nil, want the drift caught", drift)
		}
	}
}

func TestCutForV2(t *testing.T) {
	shown := []string{
		`mkdirat(AT_FDCWD, "/c/0123456789ab/rootfs/.oldroot", 0700) = 0`,
		`clone(flags=CLONE_NEWNS|SIGCHLD) = 517`,
		`==> the child is pid 517 on the host; in its new PID namespace it is pid 1`,
		"…",
		`mkdirat(AT_FDCWD, "/sys/fs/cgroup/memory/workshop/0123456789ab", 0755) = 0`,
		"…",
		`openat(AT_FDCWD, "/sys/fs/cgroup/pids/workshop/0123456789ab/pids.max", O_WRONLY|O_CLOEXEC) = 5`,
		`write(5, "64", 2) = 2`,
		`close(5) = 0`,
		`[pid 1] sethostname("box", 3) = 0`,
		`write(1, "x", 1) = 1`,
		"hi",
	}
	want := []string{
		`mkdirat(AT_FDCWD, "/c/0123456789ab/rootfs/.oldroot", 0700) = 0`,
		"…",
		`==> the child is pid 517 on the host; in its new PID namespace it is pid 1`,
		"…",
		`[pid 1] sethostname("box", 3) = 0`,
		`write(1, "x", 1) = 1`,
		"hi",
	}
	if got := cutForV2(shown); !slices.Equal(got, want) {
		t.Errorf("cutForV2 =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
