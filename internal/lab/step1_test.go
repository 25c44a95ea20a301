package lab

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestLab1ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	dir := t.TempDir()

	r, _ := Check(1, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "mkdir my-new-root") {
		t.Fatalf("no root: report\n%s", findingsText(r))
	}

	// The usual mistake: a dynamic program instead of a static one.
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	r, _ = Check(1, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "needs its libraries") {
		t.Fatalf("ls instead of busybox: report\n%s", findingsText(r))
	}

	// Another: a symlink to the host's busybox, which the jail cannot follow.
	sh(t, dir, "ln -s "+busybox+" my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "is a symlink") {
		t.Fatalf("symlinked busybox: report\n%s", findingsText(r))
	}

	sh(t, dir, "rm my-new-root/bin/busybox && cp "+busybox+" my-new-root/bin/ && chmod -x my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir})
	if r.Done() || !strings.Contains(findingsText(r), "chmod +x") {
		t.Fatalf("busybox not executable: report\n%s", findingsText(r))
	}

	sh(t, dir, "chmod +x my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir})
	if !r.Done() {
		t.Fatalf("the exercise is done, but the check says\n%s", findingsText(r))
	}
}
