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
	// What differs from run to run: container and image ids (12 hex
	// digits, which hold digits themselves), the random suffix of a
	// temporary directory, and every number (pids, fds, sizes, times).
	containerID  = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	randomSuffix = regexp.MustCompile(`\.(unpack|new)-[0-9a-f]{12}`)
	digits       = regexp.MustCompile(`\d+`)
)

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

func normal(l string) string {
	l = MachineNeutral(l)
	l = randomSuffix.ReplaceAllString(l, ".$1-X")
	l = containerID.ReplaceAllString(l, "ID")
	return digits.ReplaceAllString(l, "N")
}

// CheckSyscalls checks that the syscall lines among shown were printed, in
// the same order, and none hidden: a lesson's transcript cut into blocks by
// "…" lines must show each block's syscalls as one unbroken run of the
// syscalls printed (a call the command made between two shown lines, and
// left out without a "…", is a call the lesson hides). Other shown lines
// (output, "==>" notes) are skipped.
func CheckSyscalls(shown []string, printed string) error {
	var got []string
	for _, l := range strings.Split(printed, "\n") {
		if syscallLine.MatchString(l) && !MachineOnly(l) {
			got = append(got, normal(l))
		}
	}
	blocks := Blocks(shown, syscallLine.MatchString, normal)
	// Nor before the first shown call, nor after the last, unless a "…"
	// says so there.
	if first := blocks[0]; len(first) > 0 && len(got) > 0 && got[0] != first[0] {
		return fmt.Errorf("the command printed %q before the first call the lesson shows (%q): a call left out needs a \"…\" line", got[0], first[0])
	}
	missing, end := FindBlocks(blocks, got)
	if missing != nil {
		return fmt.Errorf("the lesson shows these calls, which the command did not print in that order, as one run with nothing between them (a call left out needs a \"…\" line):\n%s", strings.Join(missing, "\n"))
	}
	if last := blocks[len(blocks)-1]; len(last) > 0 && end < len(got) {
		return fmt.Errorf("the command printed %q after the last call the lesson shows (%q): a call left out needs a \"…\" line", got[end], last[len(last)-1])
	}
	return nil
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
