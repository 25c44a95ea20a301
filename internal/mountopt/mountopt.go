// Package mountopt writes paths into mount options the way the kernel reads
// them back, and reads paths back from the mount table the way the kernel
// writes them there.
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

// Unescape undoes the escapes of /proc/PID/mountinfo: the kernel writes a
// space, a tab, a newline and a backslash in a path as \040, \011, \012 and
// \134 (octal), so that a path never breaks the line into the wrong fields.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
