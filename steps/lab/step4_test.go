package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// TestLab4ByHand does step 4's exercise with the walkthrough's cgroup-tools
// on a v1 or hybrid host, or with the v2 files, and checks it through the
// real `workshop lab 4 check` (which knows where this host keeps cgroups).
// The group has a name of its own: other tests may use "sandbox" meanwhile.
func TestLab4ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	name := fmt.Sprintf("sandbox-lab-%d", os.Getpid())
	check := func() testbin.Result { return testbin.Run(t, "", "lab", "4", "check", "--cgroup", name) }
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	_, unified, err := cgroupMountPoints(mi, "memory")
	mi.Close()
	if err != nil {
		t.Fatal(err)
	}
	v2 := unified == "/sys/fs/cgroup"
	memDir := "/sys/fs/cgroup/memory/" + name
	if v2 {
		memDir = "/sys/fs/cgroup/" + name
	}
	// A process to put in the group, killed at the end; then the group goes.
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		os.Remove(memDir)
	})

	r := check()
	if r.Code != 1 || !strings.Contains(r.Stdout, "there is no "+name+" cgroup") {
		t.Fatalf("no group yet: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if unified == hybridUnified {
		// The cgroup v2 recipe on a hybrid host: a group without the
		// memory controller.
		sh(t, "/", "mkdir "+hybridUnified+"/"+name)
		r := check()
		os.Remove(hybridUnified + "/" + name)
		if want := "/sys/fs/cgroup/unified/" + name + " is in the cgroup v2 hierarchy, which has no memory controller here (sudo rmdir it): sudo cgcreate -g memory:/" + name; r.Code != 1 || !strings.Contains(r.Stdout, want) {
			t.Fatalf("a group in the hybrid host's v2 hierarchy: exit %d\n%s%s\nwant %q", r.Code, r.Stdout, r.Stderr, want)
		}
	}
	var top unix.Statfs_t
	if !v2 && unix.Statfs("/sys/fs/cgroup", &top) == nil && top.Flags&unix.ST_RDONLY == 0 {
		// The v2 recipe's mkdir /sys/fs/cgroup/NAME on a v1 or hybrid
		// host: a plain directory of the tmpfs, no cgroup. (Where the
		// tmpfs is read-only, as systemd remounts it, the student's mkdir
		// fails first: nothing for the check to say.)
		plain := "/sys/fs/cgroup/" + name
		sh(t, "/", "mkdir "+plain+" && echo 80M > "+plain+"/memory.max")
		r := check()
		os.RemoveAll(plain)
		if want := plain + " is a plain directory in it, no cgroup (sudo rm -r it)"; r.Code != 1 || !strings.Contains(r.Stdout, want) {
			t.Fatalf("a plain directory in /sys/fs/cgroup: exit %d\n%s%s\nwant %q", r.Code, r.Stdout, r.Stderr, want)
		}
	}
	if v2 {
		sh(t, "/", "echo +memory > /sys/fs/cgroup/cgroup.subtree_control; mkdir "+memDir)
	} else {
		testbin.NeedTool(t, "cgcreate")
		sh(t, "/", "cgcreate -g memory:/"+name)
	}
	r = check()
	if r.Code != 1 || !strings.Contains(r.Stdout, "no memory limit yet") {
		t.Fatalf("no limit: exit %d\n%s", r.Code, r.Stdout)
	}
	// The usual mistake: 80 million bytes instead of 80M.
	sh(t, "/", "echo 80000000 > "+memDir+"/"+limitFileFor(v2))
	r = check()
	if r.Code != 1 || !strings.Contains(r.Stdout, "80000000 is 80 million bytes; the kernel's 80M is 80 × 1024 × 1024 = 83886080: write 80M") {
		t.Fatalf("80000000 bytes: exit %d\n%s", r.Code, r.Stdout)
	}
	if v2 {
		sh(t, "/", "echo 80M > "+memDir+"/memory.max")
	} else {
		sh(t, "/", "cgset -r memory.limit_in_bytes=80M "+name)
	}
	r = check()
	if r.Code != 1 || !strings.Contains(r.Stdout, "no process is in") {
		t.Fatalf("no process: exit %d\n%s", r.Code, r.Stdout)
	}
	pid := fmt.Sprint(sleeper.Process.Pid)
	if v2 {
		sh(t, "/", "echo "+pid+" > "+memDir+"/cgroup.procs")
	} else {
		sh(t, "/", "cgclassify -g memory:"+name+" "+pid)
	}
	r = check()
	if r.Code != 1 || !strings.Contains(r.Stdout, "is 80M (83886080 bytes)") || !strings.Contains(r.Stdout, "OOM killer has killed nothing yet") {
		t.Fatalf("a process in it, the hog not tried: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The experiment, with the lesson's own commands (the test's group
	// for sandbox): swap shut off for the group, then a shell of the
	// group takes more than 80M, and the OOM killer ends its tail.
	text, err := lessons.Lesson(4)
	if err != nil {
		t.Fatal(err)
	}
	typed := func(cmd, dir string) string {
		t.Helper()
		lessontest.InProse(t, text, cmd)
		return "cd " + dir + " && " + strings.ReplaceAll(cmd, "sandbox", name)
	}
	if _, err := os.Stat(memDir + "/memory.swap.max"); v2 && err == nil {
		sh(t, "/", typed("echo 0 > memory.swap.max", memDir))
	} else if _, err := os.Stat(memDir + "/memory.memsw.limit_in_bytes"); err == nil {
		sh(t, "/", typed("cgset -r memory.memsw.limit_in_bytes=80M sandbox", "/"))
	}
	hog := exec.Command("bash", "-c", "echo $$ > "+memDir+"/cgroup.procs && "+typed("head -c 200M /dev/zero | tail > /dev/null", "/"))
	hog.Env = append(os.Environ(), "LC_ALL=C") // bash's words, below, in English
	if out, err := hog.CombinedOutput(); exitCode(err) != 128+int(syscall.SIGKILL) {
		t.Fatalf("the 200M tail in the group was not killed: %v\n%s", err, out)
	}
	r = check()
	if r.Code != 0 || !strings.Contains(r.Stdout, "its OOM killer ended 1 process(es)") {
		t.Fatalf("the exercise is done, but the check says: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// The bonus: pids.max 5 for the same group (on v1, a group of that
	// name in the pids hierarchy, made and joined the lesson's way), and
	// a pipeline of five in a shell of it. bash retries the refused
	// forks, and the pipeline ends late; pids.events counts the refusals.
	pidsDir := memDir
	join := "echo $$ > " + memDir + "/cgroup.procs"
	if v2 {
		sh(t, "/", "echo +pids > /sys/fs/cgroup/cgroup.subtree_control")
	} else {
		pidsDir = "/sys/fs/cgroup/pids/" + name
		t.Cleanup(func() { os.Remove(pidsDir) })
		sh(t, "/", typed("cgcreate -g pids:/sandbox", "/"))
		join = typed("cgclassify -g pids:sandbox $$", "/")
	}
	lessontest.InProse(t, text, "pids.max")
	sh(t, "/", "echo 5 > "+pidsDir+"/pids.max")
	pipeline := exec.Command("bash", "-c", join+" && "+typed("ls | cat | cat | cat | cat", "/"))
	pipeline.Env = append(os.Environ(), "LC_ALL=C")
	out, _ := pipeline.CombinedOutput()
	events, _ := os.ReadFile(pidsDir + "/pids.events")
	if !strings.Contains(string(out), "fork: retry: Resource temporarily unavailable") || !regexp.MustCompile(`(?m)^max [1-9]`).Match(events) {
		t.Errorf("the bonus's pipeline in a group of pids.max 5: %s\npids.events: %s\nwant bash's retry and a count of refused forks", out, events)
	}
}

// exitCode is the status a shell gives a command that ended with err.
func exitCode(err error) int {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0
	}
	if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

func limitFileFor(v2 bool) string {
	if v2 {
		return "memory.max"
	}
	return "memory.limit_in_bytes"
}
