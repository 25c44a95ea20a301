package state

import "path/filepath"

// Resolve is p made absolute, with the symlinks of its longest existing
// part resolved: where the kernel, and mountinfo, name it. A directory not
// made yet under a symlink (lnk/new, lnk -> elsewhere) is where mkdir
// would make it.
func Resolve(p string) string {
	p, _ = filepath.Abs(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
