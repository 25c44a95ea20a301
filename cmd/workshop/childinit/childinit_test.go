package childinit

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every package that registers a reexec init must be imported by
// childinit, or its child would find no init when run before main's.
func TestImportsEveryRegisteringPackage(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "childinit.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		imported[p] = true
	}
	const module = "github.com/workshop-dev/workshop"
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "reexec.Register(") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		if pkg := module + "/" + filepath.ToSlash(rel); !imported[pkg] {
			t.Errorf("%s registers a reexec init but childinit does not import %s", path, pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
