package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

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

// ExistingAncestor is dir, or its nearest parent that exists: where a
// directory not made yet will be made, and so the filesystem it will live
// on.
func ExistingAncestor(dir string) string {
	dir = filepath.Clean(dir)
	for {
		if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
