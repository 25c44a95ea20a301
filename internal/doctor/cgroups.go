package doctor

import (
	"errors"
	"fmt"
	"strings"
)

// CgroupLayout is step 4's reading of the host's cgroups.
type CgroupLayout struct {
	Mode     string          // "cgroup v1", "cgroup v2" or "hybrid"
	Describe string          // what that means for the student
	Limits   map[string]bool // memory, cpu, pids: whether step 4 can limit each
}

// CgroupProbe is how doctor asks step 4 (steps/04-cgroups) about cgroups:
// cmd/workshop gives it, because a package under internal/ may not import a
// step. Reading the cgroup layout stays in one place, the step's.
type CgroupProbe interface {
	Layout() (CgroupLayout, error)
	// TryLimit makes a throwaway group the way step 4 makes a container's,
	// with only controller's limit written, and removes it again.
	TryLimit(controller string) (Tried, error)
}

// Tried is what TryLimit did.
type Tried struct {
	Dir string // where the group was made
	// SwitchedOn are the controllers switched on for the children of the
	// groups above (cgroup v2), as "+memory in …/cgroup.subtree_control":
	// they stay on, and a step 4 after doctor finds them so.
	SwitchedOn []string
}

// limitControllers are the controllers step 4 limits, with the flag that
// sets each.
var limitControllers = []struct{ name, flag string }{
	{"memory", "--memory"},
	{"cpu", "--cpus"},
	{"pids", "--pids"},
}

// stepDetail is a step 4 error as a finding's detail: step 4's errors end by
// sending the student here, which here would only send them round in a
// circle.
func stepDetail(err error) string {
	s := strings.TrimSuffix(err.Error(), "; see 'workshop doctor'")
	return strings.TrimSuffix(s, ": see 'workshop doctor'")
}

// remedy is what an error of step 4's says to do about it, when it knows
// better than doctor's general fix (cgroups.InternalProcessesError).
func remedy(err error) string {
	var r interface{ Remedy() string }
	if errors.As(err, &r) {
		return r.Remedy()
	}
	return ""
}

func checkCgroups(h *Host) []Finding {
	layout, err := h.Cgroups.Layout()
	if err != nil {
		return []Finding{{Status: Fail, Name: "cgroups", Detail: stepDetail(err),
			Fix: "mount the cgroup filesystems (sudo mount -t cgroup2 none /sys/fs/cgroup), or use the classroom VM (vagrant up)"}}
	}
	out := []Finding{{Status: OK, Name: "cgroups", Detail: layout.Describe}}
	for _, c := range limitControllers {
		out = append(out, limitFinding(h, layout, c.name, c.flag))
	}
	return out
}

func limitFinding(h *Host, layout CgroupLayout, controller, flag string) Finding {
	name := "cgroup " + controller
	if !layout.Limits[controller] {
		fix := "the kernel lacks it, or it is bound to a hierarchy that is not mounted: use the classroom VM (vagrant up); until then, run the steps without " + flag
		if controller == "memory" {
			fix = "add cgroup_enable=memory to the kernel command line and reboot (Raspberry Pi OS leaves it off), or use the classroom VM (vagrant up)"
		}
		return Finding{Status: Fail, Name: name, Detail: fmt.Sprintf("%s: no %s controller where workshop makes its groups", layout.Mode, controller), Fix: fix}
	}
	if h.Euid != 0 {
		return Finding{Status: Skip, Name: name, Detail: "available; not tried: making a cgroup needs root"}
	}
	tried, err := h.Cgroups.TryLimit(controller)
	if err != nil {
		fix := remedy(err)
		if fix == "" {
			fix = "workshop cannot set this limit here (inside a container? a read-only /sys/fs/cgroup?): use the classroom VM (vagrant up), or run the steps without " + flag
		}
		return Finding{Status: Fail, Name: name, Detail: stepDetail(err), Fix: fix}
	}
	detail := fmt.Sprintf("%s limits work: a group with one was made and removed in %s", flag, tried.Dir)
	if len(tried.SwitchedOn) > 0 {
		detail += fmt.Sprintf(" (to make it, doctor switched %s, as step 4 does; they stay on)", strings.Join(tried.SwitchedOn, ", and "))
	}
	return Finding{Status: OK, Name: name, Detail: detail}
}
