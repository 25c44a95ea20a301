package namespaces

import (
	"errors"
	"path/filepath"

	"github.com/workshop-dev/workshop/internal/sys"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
)

// EnsureCommand gives root the command name with step 2 when the root lacks
// it, together with bash (the walkthrough's shell: every root of steps 2-4
// has it). The root is made if it does not exist. A command that is not on
// the host either is left out, with a note: the container then says it is
// not found (127), as it would anywhere. It returns the name to run: name
// itself, or, for a bare name found on the host's PATH but in a directory
// the root's PATH lacks (~/go/bin, /usr/local/go/bin), the path step 2
// copied it to, which the container would not find by its name.
func EnsureCommand(n *sys.Narrator, root, name string) (string, error) {
	if InRoot(root, name) {
		return name, nil
	}
	run := name
	var bins []string
	if _, err := lddcopy.Lookup(lddcopy.Shell); err == nil && !InRoot(root, lddcopy.Shell) {
		bins = append(bins, lddcopy.Shell)
	}
	p, err := lddcopy.Lookup(name)
	var nf *lddcopy.NotFoundError
	var np *lddcopy.NotProgramError
	switch {
	case errors.As(err, &nf):
		n.Note("%s is neither in %s nor on the host: the container will not find it", name, root)
	case errors.As(err, &np):
		n.Note("%v: it is not copied into %s (the root would carry the host's file into every image made from it), so the container will not find it", np, root)
	case err != nil:
		return name, err
	default:
		if p != lddcopy.Shell {
			bins = append(bins, p)
		}
		if lddcopy.RunsByPath(name, p) {
			run = p
		}
	}
	if len(bins) == 0 {
		return run, nil
	}
	n.Note("%s lacks %s: step 2 copies it in, with the libraries it needs", root, name)
	if run != name {
		n.Note("%s is in %s, which is not on the container's PATH (%s): it runs as %s", name, filepath.Dir(p), defaultPath, p)
	}
	return run, lddcopy.Populate(n, root, bins)
}
