package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The arrows of DESIGN.md point one way: cmd -> steps/06 -> steps/01..05
// -> internal. A step uses only lower-numbered steps; internal uses no
// step. steps/lab, the exercises' checks, stands beside step 6: it may use
// steps 1 to 5, and no step uses it.
func TestImportsPointOneWay(t *testing.T) {
	const module = "github.com/workshop-dev/workshop/"
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "bench") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		from := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			to, ok := strings.CutPrefix(path, module)
			if !ok || strings.HasPrefix(from, to) {
				continue
			}
			if why := wrongWay(from, to); why != "" {
				t.Errorf("%s imports %s: %s", rel, path, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d Go files found under %s", checked, root)
	}
}

// wrongWay says why package dir from may not import package dir to, or "".
func wrongWay(from, to string) string {
	switch {
	case strings.HasPrefix(to, "cmd/") && !strings.HasPrefix(from, "cmd/"):
		return "nothing but cmd imports cmd"
	case strings.HasPrefix(to, "steps/lab") && !strings.HasPrefix(from, "cmd/"):
		return "only cmd uses the exercises' checks"
	case strings.HasPrefix(from, "steps/lab") && strings.HasPrefix(to, "steps/"):
		if stepDir(to) >= 6 {
			return "the exercises' checks use steps 1 to 5 only"
		}
		return ""
	case strings.HasPrefix(from, "internal/") && strings.HasPrefix(to, "steps/"):
		return "internal imports no step"
	case strings.HasPrefix(from, "steps/") && strings.HasPrefix(to, "steps/"):
		if stepDir(to) >= stepDir(from) {
			return "a step imports only lower-numbered steps"
		}
	}
	return ""
}

// stepDir is the number of steps/NN-name/…: "06" gives 6.
func stepDir(dir string) int {
	n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(dir, "steps/"), "-", 2)[0])
	return n
}

// The rule itself, on the cases it is there for.
func TestWrongWay(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		wrong    bool
	}{
		{"steps/03-namespaces", "steps/02-ldd-copy", false},
		{"steps/02-ldd-copy", "steps/03-namespaces", true},
		{"internal/state", "steps/01-chroot", true},
		{"steps/lab", "steps/05-image-tar", false},
		{"steps/lab", "steps/06-container", true},
		{"steps/06-container", "steps/lab", true},
		{"internal/doctor", "steps/lab", true},
		{"cmd/workshop", "steps/lab", false},
		{"steps/01-chroot", "cmd/workshop", true},
	} {
		if why := wrongWay(tc.from, tc.to); (why != "") != tc.wrong {
			t.Errorf("wrongWay(%s, %s) = %q, want wrong: %v", tc.from, tc.to, why, tc.wrong)
		}
	}
}
