// Package mountopt writes paths into mount options the way the kernel reads
// them back.
package mountopt

import "strings"

// overlayEscapes are the characters overlayfs reads specially in its
// options: a comma ends an option, a colon separates lower layers, and a
// backslash escapes the next character.
var overlayEscapes = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`)

// OverlayPath is path as an overlayfs option (lowerdir=, upperdir=,
// workdir=) must give it: a state dir named "/tmp/a,b" would otherwise end
// the option at its comma, and the mount fail with ENOENT.
func OverlayPath(path string) string { return overlayEscapes.Replace(path) }
