package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

// homesIn finds, for each of a group's directories, the group of the same
// hierarchy the thread stands in now, and refuses when one is not where
// /proc/self/cgroup says (a hierarchy mounted from a subdirectory, inside
// another container): then the thread could step in but not back out, and
// the child is moved in after its clone instead.
func TestHomesIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"memory/user.slice", "cpu,cpuacct", "pids", "memory/workshop/c1", "cpu,cpuacct/workshop/c1", "pids/workshop/c1"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"memory/user.slice", "cpu,cpuacct", "pids"} {
		if err := os.WriteFile(filepath.Join(root, d, tasksFile), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mounts := map[string]string{
		"memory": filepath.Join(root, "memory"), "cpu": filepath.Join(root, "cpu,cpuacct"),
		"cpuacct": filepath.Join(root, "cpu,cpuacct"), "pids": filepath.Join(root, "pids"),
	}
	dirs := map[string]string{
		"memory": filepath.Join(root, "memory/workshop/c1"), "cpu": filepath.Join(root, "cpu,cpuacct/workshop/c1"),
		"cpuacct": filepath.Join(root, "cpu,cpuacct/workshop/c1"), "pids": filepath.Join(root, "pids/workshop/c1"),
	}
	self := "12:pids:/\n5:cpu,cpuacct:/\n4:memory:/user.slice\n1:name=systemd:/user.slice\n0::/user.slice\n"
	homes, err := homesIn(self, mounts, dirs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		dirs["memory"]: filepath.Join(root, "memory/user.slice"),
		dirs["cpu"]:    filepath.Join(root, "cpu,cpuacct"),
		dirs["pids"]:   filepath.Join(root, "pids"),
	}
	if len(homes) != len(want) {
		t.Errorf("homes = %v, want %v", homes, want)
	}
	for dir, home := range want {
		if homes[dir] != home {
			t.Errorf("home of %s = %q, want %q", dir, homes[dir], home)
		}
	}

	for what, self := range map[string]string{
		"a group that is not under the mount": "12:pids:/docker/abc\n5:cpu,cpuacct:/\n4:memory:/user.slice\n",
		"a hierarchy /proc does not list":     "5:cpu,cpuacct:/\n4:memory:/user.slice\n",
	} {
		if homes, err := homesIn(self, mounts, dirs); err == nil {
			t.Errorf("%s: homes = %v, want an error", what, homes)
		}
	}
}
