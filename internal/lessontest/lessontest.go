// Package lessontest is what the tests of LESSONS.md share: every command a
// lesson shows is run by a test beside its step, and the system calls the
// lesson shows after a `sudo workshop …` command must be among those the
// command really printed, in order. Only _test.go files import it.
package lessontest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/procmask"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// StateInLessons is the state dir the lessons show; tests use their own.
const StateInLessons = "/var/lib/workshop"

// Shell runs a lesson's command line with bash in dir, as root, the way a
// student types it in a root shell: "sudo workshop" is the binary under test
// with state as its state dir (and no colour), "sudo " is dropped, and the
// lessons' /var/lib/workshop is state. In the result's stderr (the
// narration) state reads /var/lib/workshop again, as the lesson shows it,
// and the commands workshop suggests lose the --state-dir it gives them
// (hint.Rewrite), as a student who gave none sees them; in its stdout too.
func Shell(t testing.TB, dir, state, line, stdin string) testbin.Result {
	t.Helper()
	line = strings.ReplaceAll(line, StateInLessons, state)
	line = strings.ReplaceAll(line, "sudo workshop", testbin.Bin(t)+" --no-color --state-dir "+state)
	line = strings.ReplaceAll(line, "sudo ", "")
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(stdin)
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	for _, out := range []*string{&r.Stderr, &r.Stdout} {
		*out = strings.ReplaceAll(*out, "workshop --state-dir "+state+" ", "workshop ")
	}
	r.Stderr = strings.ReplaceAll(r.Stderr, state, StateInLessons)
	return r
}

// Shown maps each command of a text's fenced blocks to the lines shown
// after it, up to the next command or the end of the block.
func Shown(markdown string) map[string][]string {
	shown := map[string][]string{}
	inBlock, cur := false, ""
	for _, l := range strings.Split(markdown, "\n") {
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
	// What differs from run to run, and only that, is named; every other
	// number (a limit, a mode, a length, a count) is compared as the
	// lesson shows it. Container and image ids (12 or 64 hex digits), and
	// the random suffix of a temporary directory:
	containerID  = regexp.MustCompile(`\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b`)
	randomSuffix = regexp.MustCompile(`\.(unpack|new)-[0-9a-f]{12}`)
	// the pids a narration names: in the [pid N] of a child's calls, as
	// clone's result, and in the note that gives the child's host pid
	// (pid 1, the same in every container, is not one of them);
	pidOfCalls = regexp.MustCompile(`^\[pid (\d+)\] `)
	pidCloned  = regexp.MustCompile(`^(?:\[pid \d+\] )?clone3?\(.*\) = (\d+)$`)
	pidOnHost  = regexp.MustCompile(`\bpid (\d+) on the host`)
	// the pid Go's os package probes pidfds with (its own, in a note);
	pidProbed = regexp.MustCompile(`pidfd_open\(\d+, 0\)`)
	// a pid written into a file, whose length is the pid's;
	pidWrite = regexp.MustCompile(`"PID", \d+\) = \d+$`)
	// the file descriptors a call returns and the calls that take one
	// first: which number the kernel gives depends on what else is open.
	fdResult = regexp.MustCompile(`^((?:\[pid \w+\] )?(?:openat|open|pidfd_open|dup|epoll_create1|memfd_create|socket|open_tree|fsmount)\(.*\) = )\d+`)
	fdArg    = regexp.MustCompile(`^((?:\[pid \w+\] )?(?:read|write|pread64|pwrite64|close|fstat|fstatfs|fsetxattr|fgetxattr|ioctl|getdents64|lseek|fchown|fchmod|fchdir|fsync|ftruncate|flock|fcntl|dup3|dup2|pidfd_send_signal|sendfile|copy_file_range|splice|openat|mkdirat|unlinkat|symlinkat|linkat|mknodat|fchownat|fchmodat|utimensat|readlinkat|newfstatat|renameat|renameat2|statx|faccessat|faccessat2|move_mount)\()\d+`)
	fdPair   = regexp.MustCompile(`\[\d+, \d+\]`)
	fdGroup  = regexp.MustCompile(`\bcgroup=\d+`) // clone3's, into a v2 group
	// and the device and inode numbers of a stat, which are the
	// machine's; inode 2, a filesystem's root, is the same everywhere.
	statDev = regexp.MustCompile(`st_dev=makedev\(0x[0-9a-f]+, 0x[0-9a-f]+\)`)
	statIno = regexp.MustCompile(`st_ino=(?:[013-9]|\d\d+)\b`)
	// and a file's times and size as the host's copy of it has them
	// (step 2 copies the host's bash, whose size is its version's).
	times = regexp.MustCompile(`tv_sec=\d+, tv_nsec=\d+`)
	// and a keyring's serial number, and a process group's (a pid);
	keyring  = regexp.MustCompile(`(keyctl\(KEYCTL_JOIN_SESSION_KEYRING, NULL\) = )\d+`)
	pgrp     = regexp.MustCompile(`(TIOC[GS]PGRP, \[)\d+\]`)
	copySize = regexp.MustCompile(`^((?:\[pid \w+\] )?copy_file_range\()\d+, NULL, \d+, NULL, \d+, 0\) = \d+$`)
)

// pidsIn is a pattern of the pids lines name (see pidOfCalls) and of also
// (when not ""), or nil when there are none.
func pidsIn(lines []string, also string) *regexp.Regexp {
	var pids []string
	if also != "" {
		pids = append(pids, also)
	}
	for _, l := range lines {
		for _, re := range []*regexp.Regexp{pidOfCalls, pidCloned, pidOnHost} {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				if m[1] != "1" && !slices.Contains(pids, m[1]) {
					pids = append(pids, m[1])
				}
			}
		}
	}
	if len(pids) == 0 {
		return nil
	}
	return regexp.MustCompile(`\b(?:` + strings.Join(pids, "|") + `)\b`)
}

// MachineNeutral takes out of a line what depends on the machine, not on
// the lesson: the two prlimit64 calls Go's child makes where the limit of
// open files is lower than its hard limit (Debian's 1024/524288).
func MachineNeutral(l string) string {
	return strings.Replace(l, ", prlimit64(0, RLIMIT_NOFILE, …) twice (the limit of open files put back where Go found it, for the new program)", "", 1)
}

// inEveryKernel are the parts of /proc that the container's masks
// (procmask.Paths) hide and that every kernel has.
var inEveryKernel = []string{"keys", "timer_list"}

// MachineOnly reports whether a printed line is there only on some
// machines, and so is left out of a lesson's transcript: the read-only
// bind of /proc/sysrq-trigger, which a kernel without CONFIG_MAGIC_SYSRQ
// (as the CI machine's) does not have, and the masks of the parts of /proc
// a kernel has or not by its configuration (Debian's has /proc/kcore, the
// CI machine's not; an arm64 machine may have no /proc/acpi).
func MachineOnly(l string) bool {
	if strings.Contains(l, "/proc/sysrq-trigger") {
		return true
	}
	for _, p := range procmask.Paths {
		if !slices.Contains(inEveryKernel, p) && strings.Contains(l, "/proc/"+p+`"`) {
			return true
		}
	}
	return false
}

// Normal is a line as the checks compare it, pid the one pid it may name
// (or ""): what differs from run to run named, every other number kept.
func Normal(l, pid string) string { return normal(l, pidsIn(nil, pid)) }

func normal(l string, pids *regexp.Regexp) string {
	l = MachineNeutral(l)
	l = randomSuffix.ReplaceAllString(l, ".$1-X")
	l = containerID.ReplaceAllString(l, "ID")
	if pids != nil {
		l = pids.ReplaceAllString(l, "PID")
	}
	l = pidProbed.ReplaceAllString(l, "pidfd_open(PID, 0)")
	l = pidWrite.ReplaceAllString(l, `"PID", LEN) = LEN`)
	l = copySize.ReplaceAllString(l, "${1}FD, NULL, FD, NULL, SIZE, 0) = SIZE")
	l = fdResult.ReplaceAllString(l, "${1}FD")
	l = fdArg.ReplaceAllString(l, "${1}FD")
	l = statDev.ReplaceAllString(l, "st_dev=DEV")
	l = statIno.ReplaceAllString(l, "st_ino=INO")
	l = times.ReplaceAllString(l, "tv_sec=T, tv_nsec=T")
	l = keyring.ReplaceAllString(l, "${1}KEY")
	l = pgrp.ReplaceAllString(l, "${1}PGID]")
	l = fdGroup.ReplaceAllString(l, "cgroup=FD")
	return fdPair.ReplaceAllString(l, "[FD, FD]")
}

// TimingOnly reports whether a printed line is there or not by how long a
// command ran: the notes that count the looks workshop takes every tenth
// of a second while it runs ("==> … 38 ioctl(0, TIOCGPGRP, […]) calls
// while it ran"), none for a command that ran less. A lesson may show
// them; they are not compared.
func TimingOnly(l string) bool { return strings.HasPrefix(l, "==> … ") }

// NarrationLine reports whether a printed line is narration: a system
// call in strace's notation, or a "==> " note of workshop's.
func NarrationLine(l string) bool {
	return syscallLine.MatchString(l) || strings.HasPrefix(l, "==> ")
}

// CheckNarration checks that the narration lines among shown (system calls
// and notes) were printed, in the same order, and none hidden: a lesson's
// transcript cut into blocks by "…" lines must show each block as one
// unbroken run of the narration printed (a call the command made between
// two shown lines, and left out without a "…", is a call the lesson
// hides). Other shown lines (the command's output) are skipped. The pids
// each side names are matched to each other; every other number must be
// the same.
func CheckNarration(shown []string, printed string) error {
	return CheckNarrationPids(shown, printed, "", "")
}

// CheckNarrationPids is CheckNarration for a command whose narration names
// a pid in none of the places pidsIn looks (workshop kill's kill(2)): the
// pid the lesson shows and the pid printed are given.
func CheckNarrationPids(shown []string, printed, shownPid, printedPid string) error {
	printedLines := strings.Split(printed, "\n")
	printedPids, shownPids := pidsIn(printedLines, printedPid), pidsIn(shown, shownPid)
	compared := func(l string) bool { return NarrationLine(l) && !MachineOnly(l) && !TimingOnly(l) }
	var got []string
	for _, l := range printedLines {
		if compared(l) {
			got = append(got, normal(l, printedPids))
		}
	}
	blocks := Blocks(shown, compared, func(l string) string { return normal(l, shownPids) })
	// Nor before the first shown line, nor after the last, unless a "…"
	// says so there.
	if first := blocks[0]; len(first) > 0 && len(got) > 0 && got[0] != first[0] {
		return fmt.Errorf("the command printed %q before the first line the lesson shows (%q): a line left out needs a \"…\" line", got[0], first[0])
	}
	missing, end := FindBlocks(blocks, got)
	if missing != nil {
		return fmt.Errorf("the lesson shows these lines, which the command did not print in that order, as one run with nothing between them (a line left out needs a \"…\" line): %s\n%s", firstDifference(missing, got[end:]), strings.Join(missing, "\n"))
	}
	if last := blocks[len(blocks)-1]; len(last) > 0 && end < len(got) {
		return fmt.Errorf("the command printed %q after the last line the lesson shows (%q): a line left out needs a \"…\" line", got[end], last[len(last)-1])
	}
	return nil
}

// firstDifference says where a block the command did not print parts from
// what it printed (got, from where the block could start), as the checks
// compare them.
func firstDifference(block, got []string) string {
	k := slices.Index(got, block[0])
	if k < 0 {
		return fmt.Sprintf("it never printed the block's first line, %q", block[0])
	}
	for i, l := range block {
		if k+i >= len(got) {
			return fmt.Sprintf("it printed nothing after %q", got[len(got)-1])
		}
		if got[k+i] != l {
			return fmt.Sprintf("where the lesson shows %q, it printed %q", l, got[k+i])
		}
	}
	return "" // not reached: the block was printed
}

// Blocks cuts a transcript at its "…" lines, each block holding the lines
// keep accepts, as norm writes them. There is always one block, maybe
// empty; a transcript that starts or ends with "…" has an empty one there.
func Blocks(shown []string, keep func(string) bool, norm func(string) string) [][]string {
	blocks := [][]string{{}}
	for _, l := range shown {
		switch {
		case strings.TrimSpace(l) == "…":
			blocks = append(blocks, []string{})
		case keep(l):
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], norm(l))
		}
	}
	return blocks
}

// FindBlocks finds the blocks in got, in order, each as one unbroken run
// after the one before. It returns the first block not found (nil when all
// were), and the index in got just past the last block found.
func FindBlocks(blocks [][]string, got []string) (missing []string, end int) {
	for _, b := range blocks {
		if len(b) == 0 {
			continue
		}
		at := -1
		for k := end; k+len(b) <= len(got); k++ {
			if slices.Equal(got[k:k+len(b)], b) {
				at = k
				break
			}
		}
		if at < 0 {
			return b, end
		}
		end = at + len(b)
	}
	return nil, end
}

// InProse fails the test unless the lesson's text tells the student to
// type cmd in its prose (in backquotes, wherever a line breaks it): the
// exercises' commands are not "$ " lines, and each test that runs one
// first checks that the text still names it.
func InProse(t testing.TB, text, cmd string) {
	t.Helper()
	if !strings.Contains(strings.Join(strings.Fields(text), " "), "`"+cmd+"`") {
		t.Errorf("the lesson no longer tells the student to type `%s`: its test runs it for nothing", cmd)
	}
}

// Coverage fails the test unless the commands a test knows how to run are
// exactly the commands the text shows: a command added to the lesson
// without a test, or a test left for a command the lesson dropped, is a
// failure.
func Coverage(t testing.TB, what, markdown string, known []string) {
	t.Helper()
	shown := lessons.Commands(markdown)
	has := map[string]bool{}
	for _, c := range known {
		has[c] = true
	}
	for _, c := range shown {
		if !has[c] {
			t.Errorf("%s shows `%s`, which no test runs: add it to the test's table", what, c)
		}
		delete(has, c)
	}
	var gone []string
	for c := range has {
		gone = append(gone, c)
	}
	sort.Strings(gone)
	for _, c := range gone {
		t.Errorf("the test runs `%s`, which %s no longer shows", c, what)
	}
}
