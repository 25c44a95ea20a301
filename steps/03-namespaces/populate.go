package namespaces

import (
	"errors"

	"github.com/workshop-dev/workshop/internal/sys"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
)

// EnsureCommand gives root the command name with step 2 when the root lacks
// it, together with bash (the walkthrough's shell: every root of steps 2-4
// has it). The root is made if it does not exist. A command that is not on
// the host either is left out, with a note: the container then says it is
// not found (127), as it would anywhere.
func EnsureCommand(n *sys.Narrator, root, name string) error {
	if InRoot(root, name) {
		return nil
	}
	var bins []string
	if _, err := lddcopy.Lookup(lddcopy.Shell); err == nil && !InRoot(root, lddcopy.Shell) {
		bins = append(bins, lddcopy.Shell)
	}
	p, err := lddcopy.Lookup(name)
	var nf *lddcopy.NotFoundError
	switch {
	case errors.As(err, &nf):
		n.Note("%s is neither in %s nor on the host: the container will not find it", name, root)
	case err != nil:
		return err
	default:
		if p != lddcopy.Shell {
			bins = append(bins, p)
		}
	}
	if len(bins) == 0 {
		return nil
	}
	n.Note("%s lacks %s: step 2 copies it in, with the libraries it needs", root, name)
	return lddcopy.Populate(n, root, bins)
}
