package chroot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
)

// MakeRoot makes root and its missing parents (mkdir -p, narrated). A root
// that exists is kept as it is; one that is not a directory is an error.
func MakeRoot(n *sys.Narrator, root string) error {
	fi, err := os.Stat(root)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is not a directory: a root must be one", root)
	case err != nil:
		if target, lerr := os.Readlink(root); lerr == nil {
			return fmt.Errorf("%s is a symlink to %s, which does not exist: make that directory, or give another root", root, target)
		}
		// The root and the directories made on the way to it (the state
		// dir) are 0755 whatever the umask of the shell that started
		// workshop: under 077 they would be 0700, and step 3's
		// --map-users root, not host root, could not reach the root.
		if mask := sys.CurrentUmask(); mask&0o755 != 0 {
			old := n.Because("the root and the directories on the way to it get 0755, whatever your shell's umask").Umask(int(mask &^ 0o755))
			defer n.Umask(old)
		}
	}
	return n.MkdirAll(root, 0o755)
}

// Step is step 1: make an empty root, then run bash in it the way
// `chroot my-new-root bash` does, and explain why that fails. It returns nil
// when the lesson happened: execve("/bin/bash") failed with ENOENT.
func Step(n *sys.Narrator, root string, stdin io.Reader, stdout, stderr io.Writer) error {
	// The lesson is an empty root: one that holds a shell would run it
	// (interactively, on a terminal) instead of showing why chroot fails.
	if err := makeEmptyRoot(n, root, "step 1 needs an empty root"); err != nil {
		return err
	}
	n.Note("the new root is %s: look inside with `ls -la %s` (it is empty)", root, hint.Quote(root))
	status, err := RunProgram(n, root, "/bin/bash", []string{"bash"}, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	if status > exit.SignalBase || status == exit.ToolFailed {
		// A stop signal came before bash's execve, or a call before it
		// failed (chroot without CAP_SYS_CHROOT): the child said so.
		return exit.Code(status, nil)
	}
	if status != exit.NotFound {
		return exit.Errorf(exit.ToolFailed, "bash did not fail to start inside %s (exit status %d): that root is not empty; give step 1 an empty --root", root, status)
	}
	n.Note("execve failed with ENOENT: after chroot, \"/bin/bash\" is looked up inside %s, and there is no bash in an empty root. A chroot sees only what is inside it.", root)
	n.Note("next: `sudo workshop step 2` copies bash and the libraries it needs into a root; then the same execve succeeds")
	if n.Options().Quiet {
		// The notes above are narration, gone with it: without a word
		// the failure just printed would read as the step's, beside its
		// exit status 0.
		fmt.Fprintln(stderr, "workshop: that failure is step 1's lesson: an empty root has no bash (without --quiet, the step shows why)")
	}
	return nil
}

// makeEmptyRoot makes root as MakeRoot does, but refuses, saying why, one
// that holds anything.
func makeEmptyRoot(n *sys.Narrator, root, why string) error {
	names, _ := dirNames(root)
	if leftByEscape(root, names) {
		n.Note("%s holds only the empty %s/ that an interrupted --demo escape left: removing it", root, escapeDir)
		if err := n.Rmdir(filepath.Join(root, escapeDir)); err != nil {
			return err
		}
		names = nil
	}
	if len(names) > 0 {
		return exit.Errorf(exit.ToolFailed, "%s is not empty (it holds %s): %s; give another --root, or leave it out", root, someOf(names), why)
	}
	return MakeRoot(n, root)
}

// leftByEscape reports whether a root holding names holds only the empty
// stepping stone of an escape demo killed before it could take it away:
// the demo's own, which may go.
func leftByEscape(root string, names []string) bool {
	if len(names) != 1 || names[0] != escapeDir {
		return false
	}
	// The demo's is a directory: a symlink of that name (to an empty
	// directory elsewhere) is not its, and stays.
	if fi, err := os.Lstat(filepath.Join(root, escapeDir)); err != nil || !fi.IsDir() {
		return false
	}
	inside, err := dirNames(filepath.Join(root, escapeDir))
	return err == nil && len(inside) == 0
}

// someOf names the first few entries of a directory, for a sentence.
func someOf(names []string) string {
	const most = 4
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// dirNames lists a directory without narrating: a look, not a change.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
