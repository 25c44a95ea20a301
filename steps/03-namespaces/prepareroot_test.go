package namespaces

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// Steps started at once in the same root (steps 2 to 4 share my-new-root)
// each make the root's mount points: the one that finds a mount point made
// by another since it looked goes on. It used to fail with "file exists"
// (125), one run in a hundred.
func TestPrepareRootRacesAnother(t *testing.T) {
	for i := 0; i < 200; i++ {
		root := filepath.Join(t.TempDir(), "my-new-root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- prepareRoot(sys.Discard(), root, unix.CLONE_NEWNS, true, true) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: prepareRoot = %v", i, err)
			}
		}
	}
}
