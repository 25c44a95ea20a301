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
func Shell(t testing.TB, dir, state, line string) testbin.Result {
	t.Helper()
	cmd := exec.Command("bash", "-c", forTest(t, line, state))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	for _, out := range []*string{&r.Stderr, &r.Stdout} {
		*out = strings.ReplaceAll(*out, "workshop --state-dir "+state+" ", "workshop ")
	}
	r.Stderr = strings.ReplaceAll(r.Stderr, state, StateInLessons)
	return r
}

// forTest is a lesson's line as the tests run it: "sudo workshop" is the
// binary under test with state as its state dir (and no colour), "sudo "
// is dropped, and the lessons' /var/lib/workshop is state.
func forTest(t testing.TB, line, state string) string {
	line = strings.ReplaceAll(line, StateInLessons, state)
	line = strings.ReplaceAll(line, "sudo workshop", testbin.Bin(t)+" --no-color --state-dir "+state)
	return strings.ReplaceAll(line, "sudo ", "")
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
	// the pids: in the [pid N] of a child's calls, as clone's or wait4's
	// result, as the first argument of kill or pidfd_open, in /proc/N/,
	// and where a note says "pid N" (inside a container they are small,
	// and vary too: 8 one run, 9 the next); a number elsewhere is kept,
	// whatever pid it equals;
	pidAt = []*regexp.Regexp{
		regexp.MustCompile(`^(\[pid )\d+(\] )`),
		regexp.MustCompile(`^((?:\[pid \w+\] )?(?:clone3?|wait4|waitid)\(.*\) = )\d+()$`),
		regexp.MustCompile(`(\b(?:kill|tgkill|pidfd_open)\()(?:[2-9]|\d\d+)(, )`),
		regexp.MustCompile(`(/proc/)\d+(/)`),
		regexp.MustCompile(`(\bpid )\d+(\b)`),
	}
	// a pid written into a file (cgroup.procs), whose length is the pid's
	// (already PID when the caller named it: CheckNarrationPids);
	pidWrite = regexp.MustCompile(`(^(?:\[pid \w+\] )?write\(\w+, ")(\d+|PID)(", )\d+(\) = )\d+$`)
	// the file descriptors a call returns and the calls that take one
	// first: which number the kernel gives depends on what else is open
	// (0, 1 and 2, the standard ones, are what they are: kept).
	fdResult = regexp.MustCompile(`^((?:\[pid \w+\] )?(?:openat|open|pidfd_open|dup|epoll_create1|memfd_create|socket|open_tree|fsmount)\(.*\) = )(?:[3-9]|\d\d+)$`)
	fdArg    = regexp.MustCompile(`^((?:\[pid \w+\] )?(?:read|write|pread64|pwrite64|close|fstat|fstatfs|fsetxattr|fgetxattr|ioctl|getdents64|lseek|fchown|fchmod|fchdir|fsync|ftruncate|flock|fcntl|dup3|dup2|pidfd_send_signal|sendfile|copy_file_range|splice|openat|mkdirat|unlinkat|symlinkat|linkat|mknodat|fchownat|fchmodat|utimensat|readlinkat|newfstatat|renameat|renameat2|statx|faccessat|faccessat2|move_mount)\()(?:[3-9]|\d\d+)\b`)
	fdPair   = regexp.MustCompile(`\[\d+, \d+\]`)
	fdGroup  = regexp.MustCompile(`\bcgroup=\d+`) // clone3's, into a v2 group
	// and the device and inode numbers of a stat, which are the
	// machine's; inode 2, a filesystem's root, is the same everywhere;
	statDev = regexp.MustCompile(`st_dev=makedev\(0x[0-9a-f]+, 0x[0-9a-f]+\)`)
	statIno = regexp.MustCompile(`st_ino=(?:[013-9]|\d\d+)\b`)
	// and the host's files' times and sizes, which step 2 copies and
	// step 5 packs (a bash of another version is another size): a copy's
	// times, its copy_file_range's length (not 0: a copy of nothing is
	// a drift), the sizes a note sums up;
	fileTimes = regexp.MustCompile(`^((?:\[pid \w+\] )?(?:utimensat|futimens)\(.*)`)
	times     = regexp.MustCompile(`tv_sec=\d+, tv_nsec=\d+`)
	copySize  = regexp.MustCompile(`^((?:\[pid \w+\] )?copy_file_range\()\d+, NULL, \d+, NULL, [1-9]\d*, 0\) = [1-9]\d*$`)
	noteSize  = regexp.MustCompile(`\b\d+(?:\.\d+)? (?:B|kB|MB|GB|TB)\b`)
	// and a keyring's serial number, and a process group's (a pid);
	keyring = regexp.MustCompile(`(keyctl\(KEYCTL_JOIN_SESSION_KEYRING, NULL\) = )\d+`)
	pgrp    = regexp.MustCompile(`(TIOC[GS]PGRP, \[)\d+\]`)
	// and how many looks a watch made every tenth of a second while the
	// command ran: as many as it ran tenths (see TimingNote).
	timingCount = regexp.MustCompile(`^==> … \d+ `)
)

// pidsIn is the set of the pids lines name where a pid stands (pidAt).
func pidsIn(lines []string) map[string]bool {
	pids := map[string]bool{}
	for _, l := range lines {
		for _, re := range pidAt {
			for _, m := range re.FindAllStringSubmatchIndex(l, -1) {
				pids[l[m[3]:m[4]]] = true // between the two groups
			}
		}
	}
	return pids
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

// Normal is a line as the checks compare it, pid a pid it may name
// anywhere (a host pid the caller knows, or ""): what differs from run to
// run named, every other number kept.
func Normal(l, pid string) string { return normal(l, pidsIn([]string{l}), pid) }

func normal(l string, pids map[string]bool, explicit string) string {
	l = MachineNeutral(l)
	l = randomSuffix.ReplaceAllString(l, ".$1-X")
	l = containerID.ReplaceAllString(l, "ID")
	if explicit != "" {
		l = regexp.MustCompile(`\b`+regexp.QuoteMeta(explicit)+`\b`).ReplaceAllString(l, "PID")
	}
	for _, re := range pidAt {
		l = re.ReplaceAllString(l, "${1}PID${2}")
	}
	if m := pidWrite.FindStringSubmatch(l); m != nil && (pids[m[2]] || m[2] == "PID") {
		l = m[1] + "PID" + m[3] + "LEN" + m[4] + "LEN"
	}
	l = copySize.ReplaceAllString(l, "${1}FD, NULL, FD, NULL, SIZE, 0) = SIZE")
	l = fdResult.ReplaceAllString(l, "${1}FD")
	l = fdArg.ReplaceAllString(l, "${1}FD")
	l = statDev.ReplaceAllString(l, "st_dev=DEV")
	l = statIno.ReplaceAllString(l, "st_ino=INO")
	if fileTimes.MatchString(l) {
		l = times.ReplaceAllString(l, "tv_sec=T, tv_nsec=T")
	}
	if strings.HasPrefix(l, "==> ") {
		l = noteSize.ReplaceAllString(l, "SIZE")
		if TimingNote(l) {
			l = timingCount.ReplaceAllString(l, "==> … N ")
		}
	}
	l = keyring.ReplaceAllString(l, "${1}KEY")
	l = pgrp.ReplaceAllString(l, "${1}PGID]")
	l = fdGroup.ReplaceAllString(l, "cgroup=FD")
	return fdPair.ReplaceAllString(l, "[FD, FD]")
}

// TimingNote reports whether a line is a note that counts the looks a
// watch took every tenth of a second while the command ran ("==> … 38
// ioctl(0, TIOCGPGRP, […]) calls while it ran, about one every tenth of a
// second"): how many is how long it ran, and a command that ran less than
// a tenth of a second took none, and has no such note. Compared, when a
// lesson shows one, with its count taken out; one the lesson does not
// show is not looked for.
func TimingNote(l string) bool {
	return strings.HasPrefix(l, "==> … ") && (strings.Contains(l, "every tenth of a second") || strings.Contains(l, "once the container ended"))
}

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
// hides), the first block from the first line printed and the last to
// the last, unless a "…" stands before or after them. Other shown lines
// (the command's output) are skipped. What differs from run to run (pids,
// file descriptors, ids, the host's files' times and sizes) is named on
// both sides; every other number must be the same.
func CheckNarration(shown []string, printed string) error {
	return CheckNarrationPids(shown, printed, "", "")
}

// CheckNarrationPids is CheckNarration for a command whose narration names
// a pid where pidAt does not look (workshop kill's kill(2) of the
// container, given as 4242 by the lesson): the pid the lesson shows and
// the pid printed are given, and named wherever they stand.
func CheckNarrationPids(shown []string, printed, shownPid, printedPid string) error {
	printedLines := strings.Split(printed, "\n")
	printedPids, shownPids := pidsIn(printedLines), pidsIn(shown)
	compared := func(l string) bool { return NarrationLine(l) && !MachineOnly(l) }
	blocks := Blocks(shown, compared, func(l string) string { return normal(l, shownPids, shownPid) })
	timingShown := map[string]bool{}
	for _, b := range blocks {
		for _, l := range b {
			if TimingNote(l) {
				timingShown[l] = true
			}
		}
	}
	var got []string
	for _, l := range printedLines {
		if !compared(l) {
			continue
		}
		n := normal(l, printedPids, printedPid)
		if TimingNote(n) && !timingShown[n] {
			continue // a look the lesson's run took or not, by its timing
		}
		got = append(got, n)
	}
	// Nor before the first shown line, nor after the last, unless a "…"
	// says so there.
	start := 0
	if first := blocks[0]; len(first) > 0 {
		for i, l := range first {
			switch {
			case i >= len(got):
				return fmt.Errorf("the command printed no more than %d lines, where the lesson shows %q", len(got), l)
			case got[i] != l:
				return fmt.Errorf("where the lesson shows %q, the command printed %q (a line left out needs a \"…\" line)", l, got[i])
			}
		}
		start = len(first)
	}
	missing, end := FindBlocks(blocks[1:], got[start:])
	end += start
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

// BashPromptRE is an interactive bash's prompt as root where no PS1 is
// set (a chroot, a container): "bash-5.2# ", its version the host's.
var BashPromptRE = regexp.MustCompile(`bash-\d+\.\d+# `)

// BashPrompt writes a screen's bash prompts as the lessons show them,
// whatever bash this host has: "bash-5.2# ".
func BashPrompt(screen string) string { return BashPromptRE.ReplaceAllString(screen, "bash-5.2# ") }

// TerminalScreen is what a terminal showed, as a lesson's transcript reads:
// carriage returns gone, bash's prompts as the lessons show them, state
// as the lessons' /var/lib/workshop.
func TerminalScreen(term *testbin.OnTerminal, state string) string {
	screen := strings.ReplaceAll(term.Screen.String(), "\r", "")
	screen = execveBeforePrompt.ReplaceAllString(screen, "$2\n$1")
	if state != "" {
		screen = strings.ReplaceAll(screen, state, StateInLessons)
	}
	return BashPrompt(screen)
}

// Typed runs a lesson's command line that starts an interactive bash (the
// walkthrough's `chroot my-new-root bash`, `workshop step 3`…) the way a
// student does: on a terminal of its own, rewritten as Shell rewrites it.
// At each prompt it types the next of typed and Enter, as a student would,
// and `exit` after the last unless that was it. It returns what the
// terminal showed, carriage returns gone and bash's prompts as the lessons
// show them (BashPrompt), and the exit status.
func Typed(t testing.TB, dir, state, line string, typed ...string) (screen string, code int) {
	t.Helper()
	line = forTest(t, line, state)
	if len(typed) == 0 || typed[len(typed)-1] != "exit" {
		typed = append(typed, "exit")
	}
	term := testbin.StartOnTerminal(t, "bash", "-c", "cd "+shellQuote(dir)+" && export LC_ALL=C && "+line)
	at := term.Screen.WaitMatch(t, BashPromptRE, 0)
	if strings.Contains(line, testbin.Bin(t)) {
		// workshop's line of the shell's execve, which may come after
		// the prompt (execveBeforePrompt), is on the screen before the
		// first key is typed: not in the middle of what is typed.
		at = max(at, term.Screen.WaitMatch(t, execveLine, 0))
	}
	for i, s := range typed {
		if i > 0 {
			at = term.Screen.WaitMatch(t, BashPromptRE, at)
		}
		if _, err := term.Master.Write([]byte(s + "\r")); err != nil {
			t.Fatalf("type %q: %v", s, err)
		}
	}
	code = term.End(t, 5*time.Minute)
	return TerminalScreen(term, state), code
}

// execveLine is workshop's line of the execve of a container's first
// program, ended.
var execveLine = regexp.MustCompile(`\[pid 1\] execve\([^\n]*\) = 0\r?\n`)

// execveBeforePrompt is a prompt with the narration's line of the execve
// that started the shell printed after it: workshop prints that line once
// the execve has happened, as bash starts, and on a loaded machine bash's
// prompt is sometimes first (a student may see it so too). Put back in the
// order the two happened in, the screen reads as the lessons show it.
var execveBeforePrompt = regexp.MustCompile(`(bash-\d+\.\d+# )(\[pid 1\] execve\([^\n]*\) = 0)\n`)

// TypedAt is what a lesson's transcript of an interactive bash shows typed
// at its prompts ("bash-5.2# pwd": pwd), in order.
func TypedAt(shown []string) []string {
	var typed []string
	for _, l := range shown {
		if s, ok := strings.CutPrefix(l, "bash-5.2# "); ok {
			typed = append(typed, s)
		}
	}
	return typed
}

// shellQuote is s quoted for bash.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Lacks is the first of want (lines of a lesson's transcript) that the
// screen does not hold as a whole line after the one before it, and false
// when it holds them all, in order.
func Lacks(screen string, want []string) (string, bool) {
	lines := strings.Split(screen, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			return w, true
		}
		i++
	}
	return "", false
}
