package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

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
	// The experiment: a process of the group takes more than 80M, with
	// swap shut off for the group, and the OOM killer ends it.
	if _, err := os.Stat(memDir + "/memory.swap.max"); v2 && err == nil {
		sh(t, "/", "echo 0 > "+memDir+"/memory.swap.max")
	} else if _, err := os.Stat(memDir + "/memory.memsw.limit_in_bytes"); err == nil {
		sh(t, "/", "echo 80M > "+memDir+"/memory.memsw.limit_in_bytes")
	}
	hog := exec.Command(os.Args[0], "-test.run=^TestLab4Hog$")
	hog.Env = append(os.Environ(), hogEnv+"="+memDir+"/cgroup.procs")
	out, err := hog.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the hog in the group was not killed: %v\n%s", err, out)
	}
	r = check()
	if r.Code != 0 || !strings.Contains(r.Stdout, "its OOM killer ended 1 process(es)") {
		t.Fatalf("the exercise is done, but the check says: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// hogEnv, set to a group's cgroup.procs, makes TestLab4Hog a process that
// joins that group and takes 200M, as the exercise's tail does.
const hogEnv = "WORKSHOP_TEST_LAB4_HOG"

func TestLab4Hog(t *testing.T) {
	procs := os.Getenv(hogEnv)
	if procs == "" {
		return // only as the helper process of TestLab4ByHand
	}
	if err := os.WriteFile(procs, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	var held [][]byte
	for i := 0; i < 200; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = 1
		}
		held = append(held, b)
	}
	fmt.Println("held", len(held), "MiB: not killed")
}

func limitFileFor(v2 bool) string {
	if v2 {
		return "memory.max"
	}
	return "memory.limit_in_bytes"
}
