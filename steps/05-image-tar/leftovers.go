package imagetar

import (
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// LockName is the file in the store's directory that its lock is taken on
// with flock(2): shared to read, exclusive to change. `workshop clean` takes
// it too before it removes what an addition left.
const LockName = lockName

// besideTemp matches the name of what an unpack or an export makes beside
// its destination before renaming it there (tempBeside).
var besideTemp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\..+\.(unpack|export)-[0-9a-f]{12}$`) })

// IsTempBeside reports whether p is named as an unpack's or an export's
// temporary directory or file beside its destination
// (".DIR.unpack-RANDOM", ".FILE.export-RANDOM").
func IsTempBeside(p string) bool { return besideTemp().MatchString(filepath.Base(p)) }

// IsLeftover reports whether a name in the store's directory, or in an
// image's, is what an addition or an unpack killed halfway left behind: a
// .new-* directory, a .NAME.unpack-* directory or a half-written .tmp file.
// Only the store's exclusive lock makes removing one safe: without it, the
// name may be an addition under way.
func IsLeftover(name string) bool {
	return strings.HasPrefix(name, newPrefix) || IsTempBeside(name) || strings.HasSuffix(name, ".tmp")
}
