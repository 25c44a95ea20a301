package cgroups

import (
	"fmt"
	"path/filepath"
)

// Locate returns the directory a top-level cgroup called name has, or would
// have, for controller on this host: <v1 mount of controller>/name on v1 and
// hybrid hosts, /sys/fs/cgroup/name on v2. The lab check of step 4 uses it
// to find the `sandbox` group the student made by hand, wherever the host
// keeps it.
func Locate(controller, name string) (string, Mode, error) {
	mode, err := realHost().detect()
	if err != nil {
		return "", 0, err
	}
	if mode == V2 {
		return filepath.Join(realHost().root, name), mode, nil
	}
	mnt, ok := realHost().v1Mounts()[controller]
	if !ok {
		return "", mode, fmt.Errorf("no cgroup v1 hierarchy has the %s controller on this host (see 'workshop doctor')", controller)
	}
	return filepath.Join(mnt, name), mode, nil
}
