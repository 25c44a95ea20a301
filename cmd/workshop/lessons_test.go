package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// TestLessonsOutsideTheSteps runs the commands of the lessons' introduction
// and closing page (each step's section has a test of its own, beside the
// step), so that no command in LESSONS.md goes untested.
func TestLessonsOutsideTheSteps(t *testing.T) {
	want := map[string]func(t *testing.T){
		"workshop steps": func(t *testing.T) {
			r := testbin.Run(t, "", "steps")
			for n, name := range []string{"chroot", "ldd-copy", "namespaces", "cgroups", "image", "container"} {
				if r.Code != 0 || !strings.Contains(r.Stdout, name) {
					t.Errorf("workshop steps = %d, lacks step %d (%s):\n%s", r.Code, n+1, name, r.Stdout)
				}
			}
		},
	}
	for _, title := range []string{"Introduction", "Beyond this workshop"} {
		sec, err := lessons.Section(title)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range lessons.Commands(sec) {
			run, ok := want[c]
			if !ok {
				t.Errorf("the %s section shows `%s`, which no test runs: add it here", title, c)
				continue
			}
			t.Run(c, run)
			delete(want, c)
		}
	}
	for c := range want {
		t.Errorf("this test runs `%s`, which the lessons no longer show", c)
	}
}

// The introduction's install of the binary, run as written from a checkout
// (bin/workshop), into a /usr/local/bin of its own: a tmpfs mounted over
// it in a mount namespace of the test's, so the machine's stays as it was.
func TestLessonsInstall(t *testing.T) {
	testbin.NeedRoot(t)
	intro, err := lessons.Section("Introduction")
	if err != nil {
		t.Fatal(err)
	}
	const install = "sudo install bin/workshop /usr/local/bin/"
	lessontest.InProse(t, intro, install)
	checkout := t.TempDir()
	if err := os.Mkdir(filepath.Join(checkout, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testbin.Bin(t), filepath.Join(checkout, "bin", "workshop")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs none /usr/local/bin && "+strings.TrimPrefix(install, "sudo ")+" && /usr/local/bin/workshop --version")
	cmd.Dir = checkout
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "workshop version ") {
		t.Errorf("`%s`, then the installed workshop --version: %v\n%s", install, err, out)
	}
}
