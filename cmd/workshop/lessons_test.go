package main

import (
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
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
