package cgroups_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
)

// stateDir is shared by the tests of this package, so the root step 2
// fills (bash, sleep) is copied once, not once per test.
var stateDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "workshop-step4-")
	if err != nil {
		panic(err)
	}
	stateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	testbin.Cleanup()
	os.Exit(code)
}

// step4 runs `workshop step 4 ARGS…` to the end.
func step4(t *testing.T, args ...string) testbin.Result {
	t.Helper()
	return testbin.Run(t, "", append([]string{"--no-color", "--state-dir", stateDir, "step", "4"}, args...)...)
}

// groupDir matches the narrated mkdirat of a container's group (not of the
// workshop parent): /sys/fs/cgroup/workshop/ID on v2,
// /sys/fs/cgroup/CONTROLLER/workshop/ID on v1.
var groupDir = regexp.MustCompile(`mkdirat\(AT_FDCWD, "(/sys/fs/cgroup/(?:[^"/]+/)?workshop/[^"/]+)", 0755\) = 0`)

// groupDirs are the directories of the container's group, from the narration.
func groupDirs(t *testing.T, narration string) []string {
	t.Helper()
	var dirs []string
	for _, m := range groupDir.FindAllStringSubmatch(narration, -1) {
		dirs = append(dirs, m[1])
	}
	if len(dirs) == 0 {
		t.Fatalf("the narration shows no cgroup made:\n%s", narration)
	}
	return dirs
}

// noGroupLeft fails unless every group directory the run made is gone.
func noGroupLeft(t *testing.T, narration string) {
	t.Helper()
	for _, d := range groupDirs(t, narration) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the run left its cgroup %s behind (stat: %v)", d, err)
		}
		if ids, _ := cgroups.List(); contains(ids, filepath.Base(d)) {
			t.Errorf("cgroups.List() still holds %s", filepath.Base(d))
		}
	}
}

func TestStep4BadLimits(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "80Q"}, `--memory 80Q: "80Q" is not a size`},
		{[]string{"--cpus", "-1"}, "--cpus -1: "},
		{[]string{"--pids", "0"}, "--pids 0: "},
		{[]string{"--timeout", "soon"}, "--timeout soon: give a duration"},
		{[]string{"--demo", "nuke"}, "the demos are forkbomb and memhog"},
		{[]string{"--demo", "memhog", "--", "/bin/true"}, "runs its own command"},
	} {
		r := step4(t, tc.args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("step 4 %q = exit %d, stderr %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

func TestStep4StatusPassesThrough(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--memory", "80M", "--pids", "64", "--cpus", "0.5", "--", "/bin/bash", "-c", "echo in the cgroup; exit 7")
	if r.Code != 7 || r.Stdout != "in the cgroup\n" {
		t.Errorf("step 4 -- bash -c 'echo…; exit 7' = exit %d, stdout %q; want 7 and the command's output alone\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"this machine's cgroups are ", "what the cgroup saw", "peak memory"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration lacks %q:\n%s", want, r.Stderr)
		}
	}
	noGroupLeft(t, r.Stderr)

	r = step4(t, "--", "/bin/bash", "-c", "exit 0")
	if r.Code != 0 {
		t.Errorf("step 4 -- bash -c 'exit 0' = exit %d\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

func TestStep4MemoryHog(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--demo", "memhog")
	if r.Code != 137 {
		t.Errorf("--demo memhog = exit %d, want 137\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "workshop: the container was killed by its memory limit (--memory 80M)") {
		t.Errorf("--demo memhog does not say the memory limit killed it:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stdout, "holding 1M of memory") {
		t.Errorf("the memory hog never got going: stdout %q", r.Stdout)
	}
	// The table never says the limit was reached 0 times beside the OOM
	// kill that only a reached limit causes (v1 kernels since 6.13 or so
	// leave memory.memsw.failcnt at 0: "not counted", and why).
	hits := regexp.MustCompile(`(?m)^  memory limit reached +(not counted|[0-9]+ times?) `).FindStringSubmatch(r.Stderr)
	switch {
	case hits == nil:
		t.Errorf("--demo memhog prints no row for the memory limit:\n%s", r.Stderr)
	case hits[1] == "0 times":
		t.Errorf("--demo memhog says the memory limit was reached 0 times, beside its OOM kill:\n%s", r.Stderr)
	case hits[1] == "not counted" && !strings.Contains(r.Stderr, "memory.memsw.failcnt at 0, but its OOM killer runs only in a group at its limit"):
		t.Errorf("--demo memhog: \"not counted\" without the reason:\n%s", r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

func TestStep4MemoryLimitOnAnyCommand(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--memory", "16M", "--", "/bin/bash", "-c", "s=x; while :; do s=$s$s; done")
	if r.Code != 137 || !strings.Contains(r.Stderr, "killed by its memory limit (--memory 16M)") {
		t.Errorf("a hog under --memory 16M = exit %d; want 137 and the memory limit named\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

func TestStep4ForkBomb(t *testing.T) {
	testbin.NeedRoot(t)
	run := start(t, "--demo", "forkbomb", "--timeout", "5s")
	// Once bash says fork failed, the bomb is at pids.max: the host must
	// still be able to start a process, and the group must hold no more
	// than its limit.
	run.waitFor(t, "fork: ")
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Errorf("the host could not start a process during the fork bomb: %v %s", err, out)
	}
	cg := run.open(t)
	if dir, ok := cg.Dir("pids"); !ok {
		t.Errorf("the fork bomb's group has no pids directory")
	} else if b, err := os.ReadFile(filepath.Join(dir, "pids.current")); err != nil {
		t.Errorf("read pids.current: %v", err)
	} else if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n > 64 {
		t.Errorf("pids.current = %q during the fork bomb, want at most pids.max (64)", b)
	}
	r := run.Wait()
	if r.Code != 0 {
		t.Errorf("--demo forkbomb = exit %d, want 0 (contained, ended by its timeout)\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"--timeout 5s expired: killing every process in the container's cgroup", "the fork bomb was contained: pids.max held it to at most 64 processes at a time"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("--demo forkbomb does not say %q", want)
		}
	}
	noGroupLeft(t, r.Stderr)
}

// A fork bomb whose pids.max refuses no fork before the timeout (a large
// limit, a sliver of CPU) was said "not contained", exit 1, as if the
// limit had failed: it is said that none was refused, and the run ends as
// any timed-out run, 137.
func TestStep4ForkBombBelowItsLimit(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--demo", "forkbomb", "--pids", "100000", "--cpus", "0.01", "--timeout", "2s")
	if r.Code != 137 || !strings.Contains(r.Stderr, "==> pids.events counted no refused fork: pids.max (100000) never had to refuse one before the timeout (2s) ended the fork bomb") ||
		!strings.Contains(r.Stderr, "--timeout 2s expired") || strings.Contains(r.Stderr, "not contained") {
		t.Errorf("--demo forkbomb --pids 100000 --cpus 0.01 = exit %d; want 137, said to have refused no fork\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

func TestStep4Timeout(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--timeout", "2s", "--", "sleep", "600")
	if r.Code != 137 || !strings.Contains(r.Stderr, "workshop: --timeout 2s expired: workshop killed every process in the container's cgroup") {
		t.Errorf("--timeout 2s -- sleep 600 = exit %d; want 137 and the timeout named\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

// The limits are in the group's files while the command runs; then a
// SIGTERM to workshop, which sleep as PID 1 ignores, ends in the kill of
// the whole group.
func TestStep4LimitsWhileRunningThenSIGTERM(t *testing.T) {
	testbin.NeedRoot(t)
	run := start(t, "--memory", "30M", "--pids", "64", "--cpus", "0.5", "--", "sleep", "600")
	run.waitFor(t, `sleep", "600"], …) = 0`)
	cg := run.open(t)
	mode, _ := cgroups.Detect()
	want := map[string]string{"memory/memory.max": "31457280", "pids/pids.max": "64", "cpu/cpu.max": "50000 100000"}
	if mode != cgroups.V2 {
		want = map[string]string{"memory/memory.limit_in_bytes": "31457280", "pids/pids.max": "64",
			"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}
	}
	for key, v := range want {
		ctrl, file, _ := strings.Cut(key, "/")
		dir, ok := cg.Dir(ctrl)
		if !ok {
			t.Errorf("the group has no %s directory on %v", ctrl, mode)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if got := strings.TrimSpace(string(b)); err != nil || got != v {
			t.Errorf("%s = %q, %v while the command runs; want %q", filepath.Join(dir, file), got, err, v)
		}
	}
	if procs, err := cg.Procs(); err != nil || len(procs) != 1 {
		t.Errorf("the group holds %v, %v; want the one sleep", procs, err)
	}

	run.Signal(syscall.SIGTERM)
	r := run.Wait()
	if r.Code != 137 || !strings.Contains(r.Stderr, "the container ignored SIGTERM for 3s") {
		t.Errorf("SIGTERM to workshop running sleep = exit %d; want 137 and the reason said\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

// A container that handles SIGINT ends on its own, with its own status.
func TestStep4SIGINTReachesTheContainer(t *testing.T) {
	testbin.NeedRoot(t)
	run := start(t, "--", "/bin/bash", "-c", `trap "echo got INT; exit 3" INT; echo ready; sleep 600 & wait`)
	run.waitForStdout(t, "ready")
	run.Signal(syscall.SIGINT)
	r := run.Wait()
	if r.Code != 3 || !strings.Contains(r.Stdout, "got INT") {
		t.Errorf("SIGINT to workshop = exit %d, stdout %q; want the container's trap to run and exit 3\n%s", r.Code, r.Stdout, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

// A command killed by a signal is not mistaken for an OOM kill. Without a
// PID namespace the shell is not PID 1, so SIGKILL from itself works.
func TestStep4CommandKilledBySignal(t *testing.T) {
	testbin.NeedRoot(t)
	r := step4(t, "--memory", "80M", "--ns", "mount,uts,ipc,net,user,cgroup", "--", "/bin/bash", "-c", "kill -KILL $$")
	if r.Code != 137 || !strings.Contains(r.Stderr, "killed by signal 9 (SIGKILL), not by a limit") || strings.Contains(r.Stderr, "killed by its memory limit") {
		t.Errorf("bash killing itself = exit %d; want 137, said to be a signal and not the memory limit\n%s", r.Code, r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}

// running is a workshop started in the background, its output watched.
type running struct{ *testbin.Running }

// start starts `workshop step 4 ARGS…` in the package's state dir, stdin
// empty.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	return startWorkshop(t, nil, append([]string{"--state-dir", stateDir, "step", "4"}, args...)...)
}

// startWorkshop starts `workshop --no-color ARGS…` with stdin (nil: empty).
func startWorkshop(t *testing.T, stdin *os.File, args ...string) *running {
	t.Helper()
	testbin.NeedRoot(t)
	r := &running{testbin.StartWithStdin(t, "", stdin, testbin.Bin(t), append([]string{"--no-color"}, args...)...)}
	if stdin == nil {
		r.Stdin.Close()
	}
	return r
}

// waitFor waits until the narration has a line holding want.
func (r *running) waitFor(t *testing.T, want string) { r.Stderr.WaitFor(t, want) }

// waitForStdout waits until the command printed a line holding want.
func (r *running) waitForStdout(t *testing.T, want string) { r.Stdout.WaitFor(t, want) }

// open finds the group the run made, from its narration.
func (r *running) open(t *testing.T) *cgroups.Cgroup {
	t.Helper()
	dirs := groupDirs(t, r.Stderr.String())
	cg, err := cgroups.Open(filepath.Base(dirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

// A SIGKILL from outside, after the OOM killer took another process of the
// container (a subshell; the shell went on), is not blamed on the memory
// limit: the kernel's log names the subshell, not the first process.
func TestStep4KillAfterAnotherProcessesOOMKill(t *testing.T) {
	r := start(t, "--memory", "20M", "--", "/bin/bash", "-c", `( x=a; while :; do x=$x$x; done ); echo subshell=$?; while :; do :; done`)
	r.waitForStdout(t, "subshell=137")
	pid := bornPid(t, r.Stderr.String())
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "not by its memory limit") || strings.Contains(res.Stderr, "killed by its memory limit") {
		t.Errorf("kill -9 of the shell after its subshell's OOM kill = exit %d; want 137, said not to be the memory limit\n%s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, `openat(AT_FDCWD, "/dev/kmsg", O_RDONLY|O_NONBLOCK|O_CLOEXEC) = `) {
		t.Errorf("the kernel's log was not read, or not narrated:\n%s", res.Stderr)
	}
	noGroupLeft(t, res.Stderr)
}

// bornPid is the host pid of the container's first process, from the
// narration's note.
func bornPid(t *testing.T, narration string) int {
	t.Helper()
	m := regexp.MustCompile(`==> pid (\d+) (?:was born in|is in) `).FindStringSubmatch(narration)
	if m == nil {
		t.Fatalf("no pid in the narration:\n%s", narration)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// A hybrid machine booted with cgroup_no_v1 keeps its limit controllers in
// its unified tree, /sys/fs/cgroup/unified. Simulated here in a mount
// namespace of the test's own: a tmpfs on /sys/fs/cgroup, and this
// machine's cgroup2 hierarchy mounted at its unified/. On a cgroup v2
// machine (the test VM), whose hierarchy has the controllers, step 4 runs
// in that tree with its limits; on a hybrid one, whose cgroup2 hierarchy
// has none of them, it refuses in a sentence.
func TestStep4UnifiedTreeOfAHybridMachine(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "unshare")
	mode, err := cgroups.Detect()
	if err != nil {
		t.Fatal(err)
	}
	v2 := "/sys/fs/cgroup/unified"
	if mode == cgroups.V2 {
		v2 = "/sys/fs/cgroup"
	}
	ctrls, err := os.ReadFile(filepath.Join(v2, "cgroup.controllers"))
	if err != nil {
		t.Fatalf("this machine's cgroup2 hierarchy: %v", err)
	}
	hasLimits := strings.Contains(" "+string(ctrls)+" ", " memory ")
	const setup = `mount -t tmpfs none /sys/fs/cgroup && mkdir /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified && exec "$0" "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", setup,
		testbin.Bin(t), "--no-color", "--state-dir", stateDir, "step", "4", "--memory", "20M", "--pids", "30", "--", "/bin/sh", "-c", "echo in-the-container")
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	if !hasLimits {
		if r.Code != 125 || !strings.Contains(r.Stderr, "no unified tree there lists the memory or pids controller") {
			t.Errorf("step 4 with a unified tree that has no controllers = exit %d\n%s", r.Code, r.Stderr)
		}
		return
	}
	if r.Code != 0 || r.Stdout != "in-the-container\n" || !strings.Contains(r.Stderr, `mkdirat(AT_FDCWD, "/sys/fs/cgroup/unified/workshop/`) ||
		!strings.Contains(r.Stderr, "/memory.max") {
		t.Fatalf("step 4 in the unified tree of a hybrid machine = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// The same hierarchy as /sys/fs/cgroup here: the group must be gone.
	for _, d := range groupDirs(t, r.Stderr) {
		real := strings.Replace(d, "/sys/fs/cgroup/unified/", "/sys/fs/cgroup/", 1)
		if _, err := os.Stat(real); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the run left its cgroup %s behind (stat: %v)", real, err)
		}
	}
}

// The lesson's way to stop a step 4 container that has the terminal (a
// sleep as PID 1 drops Ctrl-C): its id from `workshop ps` in another
// terminal, then `workshop kill ID`. The run is listed with its root for
// an image, and ends with 137, said to be the kill's, its group removed.
func TestStep4RunListedAndKilledByID(t *testing.T) {
	r := start(t, "--memory", "80M", "--", "/bin/sleep", "1000")
	r.waitFor(t, `execve("/bin/sleep", ["/bin/sleep", "1000"], …) = 0`)
	id := filepath.Base(groupDirs(t, r.Stderr.String())[0])
	pid := bornPid(t, r.Stderr.String())
	ps := testbin.Run(t, "", "--no-color", "--state-dir", stateDir, "ps")
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s +%[1]s +\(step 4 root\) +%d +/bin/sleep 1000 +[0-9.]+[BKMG] +\S+$`, id, pid))
	if ps.Code != 0 || !row.MatchString(ps.Stdout) {
		t.Errorf("ps = exit %d:\n%s\nwant a row %s", ps.Code, ps.Stdout, row)
	}
	k := testbin.Run(t, "", "--no-color", "--state-dir", stateDir, "kill", id)
	if k.Code != 0 || !strings.Contains(k.Stdout, fmt.Sprintf("sent SIGKILL to container %s (pid %d)", id, pid)) {
		t.Errorf("kill %s = exit %d, stdout %q\n%s", id, k.Code, k.Stdout, k.Stderr)
	}
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "killed by signal 9 (SIGKILL), which a workshop kill sent") {
		t.Errorf("the killed step 4 run = exit %d; want 137, said to be workshop kill's signal\n%s", res.Code, res.Stderr)
	}
	noGroupLeft(t, res.Stderr)
}

// The lesson: workshop catches the fault signals kill(1) can send too
// (kill -ABRT, kill -SEGV), where Go would dump its goroutines' stacks and
// end at once, the group left behind. Passed on to a sleep as PID 1, which
// drops them, then the group killed after the grace: 137, nothing left.
func TestStep4FaultSignalsFromKill(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{"SIGABRT": syscall.SIGABRT, "SIGSEGV": syscall.SIGSEGV} {
		t.Run(name, func(t *testing.T) {
			r := start(t, "--", "/bin/sleep", "1000")
			r.waitFor(t, `execve("/bin/sleep", ["/bin/sleep", "1000"], …) = 0`)
			r.Signal(sig)
			res := r.Wait()
			if res.Code != 137 || !strings.Contains(res.Stderr, "the container ignored "+name+" for 3s") || strings.Contains(res.Stderr, "goroutine ") {
				t.Errorf("kill -%s of workshop = exit %d; want 137, the container said to have ignored it, no stack dump\n%s", name, res.Code, res.Stderr)
			}
			noGroupLeft(t, res.Stderr)
		})
	}
}

// On cgroup v2, a process someone put in workshop's parent group itself
// (echo $$ > /sys/fs/cgroup/workshop/cgroup.procs, in a lab) makes the
// kernel refuse controllers for its children: EBUSY, the no-internal-
// process rule. It was said as "device or resource busy: see 'workshop
// doctor'", and doctor guessed at a read-only /sys/fs/cgroup. Both now
// name the process, the rule and the way out.
func TestStep4ProcessInTheV2ParentGroup(t *testing.T) {
	testbin.NeedRoot(t)
	if mode, _ := cgroups.Detect(); mode != cgroups.V2 {
		t.Skip("the no-internal-process rule is cgroup v2's: the test VM of scripts/test runs this test on v2")
	}
	parent := filepath.Join(cgroups.Root, cgroups.Parent)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	// A group with controllers on for its children may not take a process:
	// switch them off, as on a machine where nothing ran yet.
	on, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		t.Fatal(err)
	}
	var off []string
	for _, c := range strings.Fields(string(on)) {
		off = append(off, "-"+c)
	}
	if len(off) > 0 {
		if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(strings.Join(off, " ")), 0); err != nil {
			t.Fatalf("switch %q off in %s (a group of another run there?): %v", on, parent, err)
		}
	}
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(sleep.Process.Pid)
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(cgroups.Root, "cgroup.procs"), []byte(pid), 0)
		sleep.Process.Kill()
		sleep.Wait()
		os.Remove(parent)
	})
	if err := os.WriteFile(filepath.Join(parent, "cgroup.procs"), []byte(pid), 0); err != nil {
		t.Fatal(err)
	}

	r := step4(t, "--pids", "64", "--", "/bin/true")
	want := fmt.Sprintf("it holds 1 process itself (%s), and on cgroup v2 a group that hands controllers to its children may hold none (the no-internal-process rule); move them out, to the root group (echo PID > /sys/fs/cgroup/cgroup.procs for each)", pid)
	if r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "device or resource busy") {
		t.Errorf("step 4 with a process in %s = exit %d; want 125 and %q\n%s", parent, r.Code, want, r.Stderr)
	}
	d := testbin.Run(t, "", "--no-color", "--state-dir", stateDir, "doctor")
	if !strings.Contains(d.Stdout, "move the processes in "+parent+" out, to the root group") || strings.Contains(d.Stdout, "read-only /sys/fs/cgroup") {
		t.Errorf("doctor with a process in %s does not say to move it out:\n%s%s", parent, d.Stdout, d.Stderr)
	}
}

// --timeout on a terminal that takes nothing (Ctrl-S, or, here, a pty
// nobody reads): the note before the kill, and each narrated call of it,
// waited on the terminal, and the kill with them; the container ran on
// past its timeout until the terminal read again. The kill is made first
// now, and narrated after.
func TestStep4TimeoutKillsWhileTheTerminalTakesNothing(t *testing.T) {
	testbin.NeedRoot(t)
	// sleep in the root (step 4 fills it with the command's program only).
	if r := step4(t, "--", "sleep", "0"); r.Code != 0 {
		t.Fatalf("step 4 -- sleep 0 = %d\n%s", r.Code, r.Stderr)
	}
	// The timeout counts from the container's start, and on a slow
	// machine (the emulated arm64 VM, loaded) bash may not have reached
	// its sleep a second later: killed before it filled the terminal, the
	// container would not test what this test is for. A longer timeout
	// is tried then.
	for _, timeout := range []string{"1s", "4s", "15s"} {
		if timeoutKillsWithTheTerminalFull(t, timeout) {
			return
		}
	}
	t.Fatal("even with --timeout 15s, the container was killed before its sleep 4321 ran")
}

// timeoutKillsWithTheTerminalFull runs step 4 with --timeout on a pty
// nobody reads, the container filling it. It reports false, having
// checked nothing, when the timeout killed the container before its sleep
// was seen to start.
func timeoutKillsWithTheTerminalFull(t *testing.T, timeout string) bool {
	t.Helper()
	master, slave := testbin.OpenPty(t)
	defer master.Close()
	cmd := exec.Command(testbin.Bin(t), "--no-color", "--state-dir", stateDir, "step", "4", "--timeout", timeout, "--",
		"/bin/bash", "-c", "sleep 4321 & while :; do echo 0123456789abcdef; done")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exitCode := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return -1
	}
	// Nobody reads the terminal. The container starts (waited for, not
	// given a fixed time: the emulated arm64 VM took more than half a
	// second), and its --timeout must kill it all the same: its sleep
	// goes, within a generous bound, before anyone reads.
	sleeps := func() []int { return testbin.Living("sleep\x004321\x00") }
	shells := func() []int { return testbin.Living(strings.Join(cmd.Args[len(cmd.Args)-3:], "\x00") + "\x00") }
	// killedEarly is said when the timeout came before the sleep ran:
	// workshop then narrates its kill to the terminal nobody reads, and
	// ends only once it is read.
	killedEarly := func(err error, ended bool) bool {
		out := testbin.NewLines(master)
		if !ended {
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				<-done
				t.Fatalf("--timeout %s: the container's shell gone before its sleep 4321 ran, workshop ran on a minute with its terminal read\n%s", timeout, out)
			}
		}
		out.WaitEOF(10 * time.Second)
		if code := exitCode(err); code != 137 {
			t.Fatalf("step 4 --timeout %s ended (%v) before its container's sleep 4321 was seen to run; want it killed by its timeout, 137\n%s", timeout, err, out)
		}
		t.Logf("--timeout %s killed the container before its sleep 4321 was seen to run (a slow machine?); trying a longer one", timeout)
		return false
	}
	shellSeen := false
	for deadline := time.Now().Add(time.Minute); len(sleeps()) == 0; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			return killedEarly(err, true)
		default:
		}
		if len(shells()) > 0 {
			shellSeen = true
		} else if shellSeen && len(sleeps()) == 0 {
			return killedEarly(nil, false)
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			out := testbin.NewLines(master)
			out.WaitEOF(10 * time.Second)
			t.Fatalf("a minute later, the container's sleep 4321 does not run, and workshop still ran (--timeout %s); its terminal:\n%s", timeout, out)
		}
	}
	left := sleeps()
	for deadline := time.Now().Add(30 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = sleeps() {
		time.Sleep(20 * time.Millisecond)
	}
	out := testbin.NewLines(master)
	select {
	case err := <-done:
		if code := exitCode(err); code != 137 {
			t.Errorf("workshop = %v, want 137 (its --timeout)", err)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatal("a minute later, workshop still runs")
	}
	if len(left) > 0 {
		t.Errorf("30 s past --timeout %s, the terminal taking nothing, the container's sleep ran on (pids %v)", timeout, left)
	}
	out.WaitFor(t, "--timeout "+timeout+" expired: killing every process in the container's cgroup")
	return true
}

// --explain prints step 4's lesson, framed, before the run's own calls
// (each step calls explainNow once its flags are checked: one that forgot
// would run without its lesson).
func TestStep4Explain(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--no-color", "--explain", "--state-dir", stateDir, "step", "4", "--memory", "80M", "--", "/bin/true")
	if r.Code != 0 {
		t.Fatalf("--explain step 4 = %d; stderr:\n%s", r.Code, r.Stderr)
	}
	begins := strings.Index(r.Stderr, sys.LessonBegins+"4")
	ends := strings.Index(r.Stderr, sys.LessonEnds)
	if begins < 0 || ends < begins || !strings.Contains(r.Stderr[begins:ends], "\nStep 4: cgroups\n") {
		t.Fatalf("--explain step 4: want its lesson, framed; stderr:\n%s", r.Stderr)
	}
	// The lesson's transcripts make groups too: this run's is after it.
	if !groupDir.MatchString(r.Stderr[ends:]) {
		t.Errorf("--explain step 4: no group made after the lesson; stderr:\n%s", r.Stderr)
	}
}
