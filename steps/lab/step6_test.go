package lab

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
)

const hybridMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
38 30 0:34 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
39 30 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpu,cpuacct
`

const v2Mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

func TestCgroupMountPoints(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo, controller, v1, v2 string
	}{
		{"hybrid pids", hybridMountinfo, "pids", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"},
		{"hybrid cpuacct", hybridMountinfo, "cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified"},
		{"v2", v2Mountinfo, "pids", "", "/sys/fs/cgroup"},
	} {
		v1, v2, err := cgroupMountPoints(strings.NewReader(tc.mountinfo), tc.controller)
		if err != nil || v1 != tc.v1 || v2 != tc.v2 {
			t.Errorf("%s: cgroupMountPoints = %q, %q, %v; want %q, %q", tc.name, v1, v2, err, tc.v1, tc.v2)
		}
	}
}

func TestCgroupDirOf(t *testing.T) {
	hybrid := "9:name=systemd:/user.slice\n8:pids:/workshop/0123456789ab\n4:memory:/workshop/0123456789ab\n0::/user.slice\n"
	v2 := "0::/workshop/0123456789ab\n"
	for _, tc := range []struct {
		name, proc, v1, v2, want string
	}{
		{"hybrid: the v1 line", hybrid, "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids/workshop/0123456789ab"},
		{"v2: the 0:: line", v2, "", "/sys/fs/cgroup", "/sys/fs/cgroup/workshop/0123456789ab"},
	} {
		got, err := cgroupDirOf(tc.proc, "pids", tc.v1, tc.v2)
		if err != nil || got != tc.want {
			t.Errorf("%s: cgroupDirOf = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// No v1 hierarchy has pids: the controller can only be in the v2 tree.
	if got, err := cgroupDirOf(hybrid, "pids", "", "/sys/fs/cgroup/unified"); err != nil || got != "/sys/fs/cgroup/unified/user.slice" {
		t.Errorf("cgroupDirOf with no pids hierarchy = %q, %v; want the v2 group", got, err)
	}
	if got, err := cgroupDirOf("", "pids", "/sys/fs/cgroup/pids", ""); err == nil {
		t.Errorf("cgroupDirOf of an empty /proc/PID/cgroup = %q, want an error", got)
	}
}

// The places 42 may have gone instead: the first that holds it is named.
func TestPlaceHolding(t *testing.T) {
	dir := t.TempDir()
	places := []place{{filepath.Join(dir, "parent"), "the parent"}, {filepath.Join(dir, "other"), "another container's"}, {filepath.Join(dir, "gone"), "a group that is not there"}}
	for _, p := range places[:2] {
		os.MkdirAll(p.dir, 0o755)
		os.WriteFile(filepath.Join(p.dir, "pids.max"), []byte("max\n"), 0o644)
	}
	if p, ok := placeHolding("42", places); ok {
		t.Errorf("placeHolding(42) = %v with every pids.max at max", p)
	}
	os.WriteFile(filepath.Join(places[1].dir, "pids.max"), []byte("42\n"), 0o644)
	if p, ok := placeHolding("42", places); !ok || p.what != "another container's" {
		t.Errorf("placeHolding(42) = %v, %v; want another container's", p, ok)
	}
}

// lab6Run is a `workshop full run` the test leaves running, as a student
// leaves it open in a terminal: its stdin feeds the container's shell.
type lab6Run struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	stdout []string
	pid    int // the container's first process, from the narration
}

var childPid = regexp.MustCompile(`==> the child is pid (\d+) on the host`)

// startLab6 starts `workshop full run ARGS… -- /bin/sh` in state and waits
// until its shell runs.
func startLab6(t *testing.T, state string, args ...string) *lab6Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	argv := append([]string{"--no-color", "--state-dir", state, "full", "run"}, args...)
	cmd := exec.CommandContext(ctx, testbin.Bin(t), append(argv, "--", "/bin/sh")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &lab6Run{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.mu.Lock()
			r.stdout = append(r.stdout, sc.Text())
			r.mu.Unlock()
		}
	}()
	started := make(chan int, 1)
	var narration strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			narration.WriteString(line + "\n")
			if m := childPid.FindStringSubmatch(line); m != nil {
				pid, _ := strconv.Atoi(m[1])
				r.pid = pid
			}
			if strings.Contains(line, `[pid 1] execve("/bin/sh", ["/bin/sh"], …) = 0`) {
				started <- r.pid
			}
		}
		close(started)
	}()
	select {
	case pid, ok := <-started:
		if !ok || pid == 0 {
			t.Fatalf("workshop full run %q ended before its shell ran", args)
		}
		r.pid = pid
	case <-time.After(2 * time.Minute):
		t.Fatalf("workshop full run %q: no shell after 2 minutes", args)
	}
	return r
}

// say types a line into the container's shell and waits for the line of
// output it expects.
func (r *lab6Run) say(t *testing.T, line, want string) {
	t.Helper()
	r.mu.Lock()
	seen := len(r.stdout)
	r.mu.Unlock()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := append([]string(nil), r.stdout[seen:]...)
		r.mu.Unlock()
		for _, g := range got {
			if g == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("typed %q in the container: no line %q came out", line, want)
}

// The student's commands, in a second terminal: the mount point and the
// image's directory from /proc/mounts, the group from /proc/PID/cgroup.
const (
	mountPoint  = `grep overlay /proc/mounts | grep "$STATE/containers/" | cut -d' ' -f2`
	lowerDir    = `grep overlay /proc/mounts | grep "$STATE/containers/" | grep -o 'lowerdir=[^,]*' | cut -d= -f2`
	pidsMaxFile = `if grep -q ':pids:' /proc/$PID/cgroup; then echo /sys/fs/cgroup/pids$(grep ':pids:' /proc/$PID/cgroup | cut -d: -f3)/pids.max; else echo /sys/fs/cgroup$(grep '^0::' /proc/$PID/cgroup | cut -d: -f3)/pids.max; fi`
)

// byHand runs a student's command line with STATE and PID set.
func byHand(t *testing.T, state string, pid int, command string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "STATE="+state, "PID="+strconv.Itoa(pid))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestLab6ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()

	check := func(t *testing.T) (*Report, string) {
		t.Helper()
		r, err := Check(6, Options{StateDir: state})
		if err != nil {
			t.Fatalf("Check(6) = %v", err)
		}
		return r, findingsText(r)
	}
	wantTodo := func(t *testing.T, what ...string) {
		t.Helper()
		r, text := check(t)
		if r.Done() {
			t.Errorf("the check says done:\n%s", text)
		}
		for _, w := range what {
			if !strings.Contains(text, w) {
				t.Errorf("the report lacks %q:\n%s", w, text)
			}
		}
	}

	t.Run("no container running", func(t *testing.T) {
		// In the state dir the check looks at, which is not the default.
		wantTodo(t, "todo  no step 6 container is running", "hint: in another terminal: sudo workshop --state-dir "+state+" full run --name lab6 -- /bin/sh")
	})

	lab := startLab6(t, state, "--name", "lab6")
	t.Run("nothing done yet", func(t *testing.T) {
		wantTodo(t, "ok    container ", "(lab6) is running: its first process is pid "+strconv.Itoa(lab.pid),
			"todo  the container has no /from-the-host yet", "grep overlay /proc/mounts")
	})

	t.Run("the file written into the image", func(t *testing.T) {
		lower := byHand(t, state, lab.pid, lowerDir)
		byHand(t, state, lab.pid, "echo hello > "+lower+"/from-the-host")
		wantTodo(t, "from-the-host is in the image's rootfs ("+lower+", the overlay's lowerdir)", "overlayfs never writes into its lower layer")
		byHand(t, state, lab.pid, "rm "+lower+"/from-the-host")
	})

	t.Run("the file written through the overlay, no limit yet", func(t *testing.T) {
		mnt := byHand(t, state, lab.pid, mountPoint)
		byHand(t, state, lab.pid, "echo hello > "+mnt+"/from-the-host")
		lab.say(t, "cat /from-the-host", "hello")
		wantTodo(t, "ok    /from-the-host is in the container's root, and in its own layer",
			"pids.max of the container's cgroup", "is max, not 42", "cat /proc/"+strconv.Itoa(lab.pid)+"/cgroup names the container's group")
	})

	t.Run("the limit written into another container's group", func(t *testing.T) {
		other := startLab6(t, state, "--name", "other")
		wrong := byHand(t, state, other.pid, pidsMaxFile)
		byHand(t, state, other.pid, "echo 42 > "+wrong)
		wantTodo(t, "42 went into "+wrong+", the group of container ", "(other), not of lab6")
		byHand(t, state, other.pid, "echo max > "+wrong)
	})

	t.Run("done", func(t *testing.T) {
		file := byHand(t, state, lab.pid, pidsMaxFile)
		byHand(t, state, lab.pid, "cat /proc/$PID/cgroup; echo 42 > "+file)
		r, text := check(t)
		if !r.Done() || !strings.Contains(text, "ok    pids.max of its cgroup ("+file+") is 42") || !strings.Contains(text, "Well done") {
			t.Errorf("the exercise is done, but the check says\n%s", text)
		}
		var b strings.Builder
		r.Print(&b, true)
		mnt := byHand(t, state, lab.pid, mountPoint)
		if !strings.Contains(b.String(), "echo hello | sudo tee "+mnt+"/from-the-host") || !strings.Contains(b.String(), filepath.Dir(file)) {
			t.Errorf("--solution does not name this container's mount point %s and group %s:\n%s", mnt, filepath.Dir(file), b.String())
		}
	})
}

// Two containers running, neither named lab6: the check does not guess.
func TestLab6WhichContainer(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	one := startLab6(t, state)
	r, _ := Check(6, Options{StateDir: state})
	if text := findingsText(r); !strings.Contains(text, "this one will do") || !strings.Contains(text, strconv.Itoa(one.pid)) {
		t.Errorf("one container running, not named lab6: the report\n%s", text)
	}
	startLab6(t, state)
	r, _ = Check(6, Options{StateDir: state})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "2 step 6 containers are running and none is named lab6") {
		t.Errorf("two containers running, none named lab6: the report\n%s", text)
	}
}

// pids.max at 42 because the run was started with --pids 42 is not the
// exercise, which is to set it by hand.
func TestLab6PidsSetByTheFlag(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	lab := startLab6(t, dir, "--name", "lab6", "--pids", "042") // 42, written another way
	mnt := byHand(t, dir, lab.pid, mountPoint)
	byHand(t, dir, lab.pid, "echo hello > "+mnt+"/from-the-host")
	r, err := Check(6, Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if text := findingsText(r); r.Done() || !strings.Contains(text, "the run set it itself (its command line has --pids 42)") {
		t.Errorf("pids.max 42 from the run's own --pids 42: the report\n%s", text)
	}
	// The hint names the new container's group, not this one's, which
	// goes with it (it said to write into this one's path).
	runs, err := state.List(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("the runs recorded: %v, %v", runs, err)
	}
	if text := findingsText(r); strings.Contains(text, "/workshop/"+runs[0].ID+"/pids.max") || !strings.Contains(text, "/workshop/NEW-ID/pids.max, NEW-ID being the new container's id") {
		t.Errorf("the hint after --pids 42 names the old container's group, or none: the report\n%s", text)
	}
}

// A run started with another --pids, then given 42 by hand, did the
// exercise: the flag's value is not 42.
func TestLab6PidsByHandAfterAnotherFlag(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	lab := startLab6(t, state, "--name", "lab6", "--pids", "64")
	mnt := byHand(t, state, lab.pid, mountPoint)
	byHand(t, state, lab.pid, "echo hello > "+mnt+"/from-the-host")
	file := byHand(t, state, lab.pid, pidsMaxFile)
	byHand(t, state, lab.pid, "echo 42 > "+file)
	r, err := Check(6, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if text := findingsText(r); !r.Done() || !strings.Contains(text, "ok    pids.max of its cgroup ("+file+") is 42") {
		t.Errorf("--pids 64, then 42 by hand: the report\n%s", text)
	}
}

// The solution names the state dir's containers and, where it is not the
// default, the --state-dir to start the container with.
func TestLab6SolutionNamesTheStateDir(t *testing.T) {
	if got := lab6Solution("", nil, ""); !strings.Contains(got, "    "+lab6StartCmd+"\n") || !strings.Contains(got, "/var/lib/workshop/containers/<id>/rootfs") {
		t.Errorf("the default state dir's solution:\n%s", got)
	}
	got := lab6Solution("/srv/my state", nil, "")
	if !strings.Contains(got, "    sudo workshop --state-dir '/srv/my state' full run --name lab6 -- /bin/sh\n") || !strings.Contains(got, "/srv/my state/containers/<id>/rootfs") {
		t.Errorf("another state dir's solution:\n%s", got)
	}
	// The paths to type are quoted where a shell needs it.
	if want := "echo hello | sudo tee '/srv/my state/containers/<id>/rootfs/from-the-host'\n"; !strings.Contains(got, want) {
		t.Errorf("another state dir's solution lacks %q:\n%s", want, got)
	}
	got = lab6Solution("/srv/my state", &state.Run{ID: "abc", Pid: 77, Mounts: []string{"/srv/my state/containers/abc/rootfs"}}, "/sys/fs/cgroup/pids/my group")
	for _, want := range []string{"echo 42 | sudo tee '/sys/fs/cgroup/pids/my group/pids.max'\n", "cat /proc/77/cgroup\n", "echo hello | sudo tee '/srv/my state/containers/abc/rootfs/from-the-host'\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("a running container's solution lacks %q:\n%s", want, got)
		}
	}
}
