package doctor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func cgroupHost(t *testing.T, f *fakeCgroups) *Host {
	h := fakeHost(t)
	h.Cgroups = f
	return h
}

var allLimits = map[string]bool{"memory": true, "cpu": true, "pids": true}

func TestCgroupsEveryLimitIsTried(t *testing.T) {
	f := &fakeCgroups{layout: CgroupLayout{Mode: "hybrid", Describe: "hybrid: v1 controllers…", Limits: allLimits}}
	fs := checkCgroups(cgroupHost(t, f))
	if m := only(t, fs, "cgroups"); m.Status != OK || m.Detail != "hybrid: v1 controllers…" {
		t.Errorf("mode finding = %+v, want ok with step 4's description", m)
	}
	for _, c := range []struct{ ctrl, flag string }{{"memory", "--memory"}, {"cpu", "--cpus"}, {"pids", "--pids"}} {
		if got := only(t, fs, "cgroup "+c.ctrl); got.Status != OK || !strings.Contains(got.Detail, c.flag) || !strings.Contains(got.Detail, "/sys/fs/cgroup/workshop") {
			t.Errorf("cgroup %s = %+v, want ok naming %s and where", c.ctrl, got, c.flag)
		}
	}
	if !slices.Equal(f.tried, []string{"memory", "cpu", "pids"}) {
		t.Errorf("tried %q, want each limit once: memory, cpu, pids", f.tried)
	}
}

func TestCgroupsControllerMissing(t *testing.T) {
	// Raspberry Pi OS: the memory controller is off unless the kernel
	// command line turns it on.
	f := &fakeCgroups{layout: CgroupLayout{Mode: "cgroup v2", Limits: map[string]bool{"cpu": true, "pids": true}}}
	fs := checkCgroups(cgroupHost(t, f))
	if m := only(t, fs, "cgroup memory"); m.Status != Fail || !strings.Contains(m.Fix, "cgroup_enable=memory") {
		t.Errorf("cgroup memory = %+v, want fail with the cgroup_enable=memory fix", m)
	}
	if slices.Contains(f.tried, "memory") {
		t.Errorf("tried a memory limit the layout says is missing")
	}
	f.layout.Limits = map[string]bool{"memory": true, "cpu": true}
	if p := only(t, checkCgroups(cgroupHost(t, f)), "cgroup pids"); p.Status != Fail || !strings.Contains(p.Fix, "without --pids") {
		t.Errorf("cgroup pids = %+v, want fail, saying the steps run without --pids", p)
	}
}

func TestCgroupsLimitRefused(t *testing.T) {
	// A read-only /sys/fs/cgroup, as inside a container: step 4's error
	// shows, without its pointer back to doctor.
	refusal := errors.New(`cannot make the cgroup /sys/fs/cgroup/pids/workshop: read-only file system; see 'workshop doctor'`)
	f := &fakeCgroups{layout: CgroupLayout{Mode: "hybrid", Limits: allLimits}, refused: map[string]error{"pids": refusal}}
	fs := checkCgroups(cgroupHost(t, f))
	p := only(t, fs, "cgroup pids")
	if p.Status != Fail || !strings.Contains(p.Detail, "read-only file system") || strings.Contains(p.Detail, "workshop doctor") {
		t.Errorf("cgroup pids = %+v, want fail with step 4's error, minus 'see workshop doctor'", p)
	}
	if m := only(t, fs, "cgroup memory"); m.Status != OK {
		t.Errorf("cgroup memory = %+v, want ok: only pids was refused", m)
	}
}

// A write refused for no reason step 4 knows ends ": see 'workshop
// doctor'": doctor's own report must not send the student back to it.
func TestCgroupsWriteRefusedNoPointerBack(t *testing.T) {
	refusal := errors.New(`cannot write "64" to /sys/fs/cgroup/workshop/x/pids.max: device or resource busy: see 'workshop doctor'`)
	f := &fakeCgroups{layout: CgroupLayout{Mode: "cgroup v2", Limits: allLimits}, refused: map[string]error{"pids": refusal}}
	if p := only(t, checkCgroups(cgroupHost(t, f)), "cgroup pids"); strings.Contains(p.Detail, "workshop doctor") {
		t.Errorf("cgroup pids = %+v, want step 4's error without 'see workshop doctor'", p)
	}
}

// remedied is an error of step 4's that says what to do about it.
type remedied struct{}

func (remedied) Error() string  { return "it holds 1 process itself" }
func (remedied) Remedy() string { return "move it out" }

// Where step 4's error knows what to do (a process in a v2 parent group),
// doctor's fix says that, not its guess about containers and read-only
// filesystems.
func TestCgroupsRefusalWithARemedy(t *testing.T) {
	f := &fakeCgroups{layout: CgroupLayout{Mode: "cgroup v2", Limits: allLimits}, refused: map[string]error{"memory": fmt.Errorf("wrapped: %w", remedied{})}}
	if m := only(t, checkCgroups(cgroupHost(t, f)), "cgroup memory"); m.Status != Fail || m.Fix != "move it out" {
		t.Errorf("cgroup memory = %+v, want fail with the error's own remedy", m)
	}
}

func TestCgroupsNone(t *testing.T) {
	f := &fakeCgroups{layoutErr: errors.New("/sys/fs/cgroup is a tmpfs with no cgroup v1 controller mounted in it: this machine has no usable cgroups; see 'workshop doctor'")}
	fs := checkCgroups(cgroupHost(t, f))
	if len(fs) != 1 || fs[0].Status != Fail || !strings.Contains(fs[0].Fix, "mount -t cgroup2") || strings.Contains(fs[0].Detail, "workshop doctor") {
		t.Errorf("findings = %+v, want one fail with a mount fix", fs)
	}
	if len(f.tried) != 0 {
		t.Errorf("tried limits %q with no cgroups", f.tried)
	}
}

func TestCgroupsNotRoot(t *testing.T) {
	f := &fakeCgroups{layout: CgroupLayout{Mode: "hybrid", Limits: allLimits}}
	h := cgroupHost(t, f)
	h.Euid = 1000
	for _, ctrl := range []string{"memory", "cpu", "pids"} {
		if got := only(t, checkCgroups(h), "cgroup "+ctrl); got.Status != Skip {
			t.Errorf("cgroup %s as uid 1000 = %+v, want skip", ctrl, got)
		}
	}
	if len(f.tried) != 0 {
		t.Errorf("tried limits %q without root", f.tried)
	}
}

// On v2, trying a limit switches controllers on up the tree, for good:
// doctor says so, since it narrates nothing and a step 4 after it then
// finds them on.
func TestCgroupsSwitchedOnIsSaid(t *testing.T) {
	f := &fakeCgroups{layout: CgroupLayout{Mode: "cgroup v2", Limits: allLimits},
		switchedOn: []string{"+memory +pids +cpu in /sys/fs/cgroup/cgroup.subtree_control"}}
	m := only(t, checkCgroups(cgroupHost(t, f)), "cgroup memory")
	if m.Status != OK || !strings.Contains(m.Detail, "doctor switched +memory +pids +cpu in /sys/fs/cgroup/cgroup.subtree_control, as step 4 does; they stay on") {
		t.Errorf("cgroup memory = %+v, want ok, saying what it switched on", m)
	}
	f.switchedOn = nil
	if m := only(t, checkCgroups(cgroupHost(t, f)), "cgroup memory"); strings.Contains(m.Detail, "switched") {
		t.Errorf("cgroup memory = %+v, with nothing switched on, says something was", m)
	}
}
