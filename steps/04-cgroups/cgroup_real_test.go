package cgroups_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
)

// testID is a group name no real container has (ids are hex).
func testID(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.ToLower(t.Name()), os.Getpid())
}

// On this kernel, whatever its layout: New writes each limit into its file,
// Add moves a process in, Kill ends it, Stats reads, Remove leaves nothing.
func TestRealCgroupLifecycle(t *testing.T) {
	testbin.NeedRoot(t)
	mode, err := cgroups.Detect()
	if err != nil {
		t.Fatal(err)
	}
	var narration bytes.Buffer
	n := sys.New(&narration, sys.Options{})
	id := testID(t)
	cg, err := cgroups.New(n, id, cgroups.Limits{Memory: 80 << 20, Pids: 16, CPUs: 0.5})
	if err != nil {
		t.Fatalf("New: %v\n%s", err, narration.String())
	}
	paths := cg.Paths()
	t.Cleanup(func() {
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s is still there after Remove", p)
				os.Remove(p)
			}
		}
	})

	var want map[string]string
	if mode == cgroups.V2 {
		want = map[string]string{"memory/memory.max": "83886080", "pids/pids.max": "16", "cpu/cpu.max": "50000 100000"}
	} else {
		want = map[string]string{"memory/memory.limit_in_bytes": "83886080", "pids/pids.max": "16",
			"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}
	}
	for key, v := range want {
		ctrl, file, _ := strings.Cut(key, "/")
		dir, ok := cg.Dir(ctrl)
		if !ok {
			t.Fatalf("Dir(%q) = none on %v", ctrl, mode)
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(b)) != v {
			t.Errorf("%s = %q, %v, want %q", filepath.Join(dir, file), b, err, v)
		}
		if !strings.Contains(narration.String(), fmt.Sprintf("openat(AT_FDCWD, %q, O_WRONLY|O_CLOEXEC)", filepath.Join(dir, file))) {
			t.Errorf("the write of %s was not narrated:\n%s", file, narration.String())
		}
	}

	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Process.Kill()
	if err := cg.Add(sleep.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	procs, err := cg.Procs()
	if err != nil || len(procs) != 1 || procs[0] != sleep.Process.Pid {
		t.Errorf("Procs() = %v, %v, want [%d]", procs, err, sleep.Process.Pid)
	}
	if cur, err := cg.MemoryCurrent(); err != nil || cur < 0 {
		t.Errorf("MemoryCurrent() = %d, %v, want a count of bytes", cur, err)
	}
	if ids, err := cgroups.List(); err != nil || !contains(ids, id) {
		t.Errorf("List() = %v, %v, want it to hold %s", ids, err, id)
	}
	opened, err := cgroups.Open(id)
	if err != nil || strings.Join(opened.Paths(), " ") != strings.Join(paths, " ") {
		t.Errorf("Open(%q) = %v, %v, want the same paths %v", id, opened, err, paths)
	}

	if err := cg.Kill(); err != nil {
		t.Fatalf("Kill: %v\n%s", err, narration.String())
	}
	err = sleep.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.String() != "signal: killed" {
		t.Errorf("sleep after Kill: %v, want signal: killed", err)
	}
	st, err := cg.Stats()
	if err != nil || st.Mode != mode || st.OOMKilled() || st.PidsRefused != 0 || st.MemoryPeak < 0 || st.CPUTime < 0 {
		t.Errorf("Stats() = %+v, %v, want a peak and CPU time counted, no OOM kill, no refused fork", st, err)
	}
	if err := cg.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := cgroups.Open(id); err == nil {
		t.Errorf("Open(%q) after Remove found it", id)
	}
	t.Logf("narration:\n%s", narration.String())
}

// A group whose limit cannot be written is removed again; here the kernel
// refuses a CPU quota below its 1ms minimum, through the same writer.
func TestRealCgroupRefusedLimitLeavesNothing(t *testing.T) {
	testbin.NeedRoot(t)
	var narration bytes.Buffer
	id := testID(t)
	_, err := cgroups.New(sys.New(&narration, sys.Options{}), id, cgroups.Limits{CPUs: 0.001})
	if err == nil || !strings.Contains(err.Error(), "cannot write") {
		t.Fatalf("New with a 100µs quota = %v, want the kernel's refusal naming the file\n%s", err, narration.String())
	}
	if _, err := cgroups.Open(id); err == nil {
		t.Errorf("the refused group %s is still there", id)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Containers start and end at the same time: one's Remove takes away the
// empty workshop parent while another is making its group in it. Each New
// must still succeed, and nothing may be left.
func TestRealCgroupsConcurrently(t *testing.T) {
	testbin.NeedRoot(t)
	const workers, rounds = 6, 15
	errs := make(chan error, workers*rounds)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for r := 0; r < rounds; r++ {
				id := fmt.Sprintf("%s-%d-%d", testID(t), w, r)
				cg, err := cgroups.New(sys.Discard(), id, cgroups.Limits{Pids: 8})
				if err != nil {
					errs <- fmt.Errorf("New(%s): %w", id, err)
					continue
				}
				if err := cg.Remove(); err != nil {
					errs <- fmt.Errorf("Remove(%s): %w", id, err)
				}
			}
		}(w)
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ids, _ := cgroups.List()
	for _, id := range ids {
		if strings.HasPrefix(id, testID(t)) {
			t.Errorf("group %s was left behind", id)
		}
	}
}
