package workshop

import (
	"strings"
	"testing"
)

func TestLessonSections(t *testing.T) {
	for n := 1; n <= 6; n++ {
		sec, err := Lesson(n)
		if err != nil {
			t.Fatalf("Lesson(%d) = %v", n, err)
		}
		if !strings.HasPrefix(sec, "## Step ") {
			t.Errorf("Lesson(%d) starts %q, want its heading", n, sec[:20])
		}
		if strings.Contains(sec[3:], "\n## ") {
			t.Errorf("Lesson(%d) runs into the next section", n)
		}
	}
	if _, err := Lesson(9); err == nil {
		t.Errorf("Lesson(9) = nil error, want one")
	}
}

func TestCommands(t *testing.T) {
	md := "text\n$ not a command\n```sh\n$ sudo workshop step 1\noutput line\n$ ls /\n```\n"
	got := Commands(md)
	if len(got) != 2 || got[0] != "sudo workshop step 1" || got[1] != "ls /" {
		t.Errorf("Commands = %q, want the two prompted lines in the block", got)
	}
}
