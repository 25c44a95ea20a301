// Package hint makes the workshop commands that notes, errors and the lab
// checks suggest read as the student must type them: with sudo, as every
// command of the lessons is (pasted without it, one would only say it needs
// root), and with the --state-dir they gave, or the suggested `workshop ps`
// would look in the default state dir and find nothing of theirs.
package hint

import (
	"regexp"
	"strings"
	"sync"
)

// stateDir is the state dir given with --state-dir, or "" for the default.
var stateDir string

// SetStateDir records the state dir a --state-dir gave (cmd/workshop calls
// it once the flags are read; "" for the default).
func SetStateDir(dir string) { stateDir = dir }

// StateDir is the state dir SetStateDir recorded, for a re-executed child
// to record too.
func StateDir() string { return stateDir }

// mention is a workshop command a sentence suggests: after a quote, a
// backquote, a parenthesis, a colon and a space, or a shell prompt ("$ ",
// a lesson's command line), "workshop" or "sudo workshop", and one of the
// commands that read the state dir (doctor looks at its filesystem).
// (Compiled at its first use, not in every process's start.)
var mention = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile("(['`(]|: |\\$ )((?:sudo )?workshop) (ps|kill|diff|clean|lab|image|step|full|doctor)\\b")
})

// Rewrite gives each workshop command a sentence suggests ('workshop
// clean', `sudo workshop step 2`, workshop kill ID) the sudo and the
// --state-dir the student must type, so that the notes, errors and checks,
// written once, send them to their own state dir, as root. Where workshop
// runs as root without sudo (a root shell), sudo is still given: the
// lessons type every command so, and sudo runs a root shell's command too.
func Rewrite(s string) string {
	if !strings.Contains(s, "workshop ") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range mention().FindAllStringSubmatchIndex(s, -1) {
		// m[4]:m[5] is "workshop" or "sudo workshop". A usage line
		// ("usage: workshop image pack DIR NAME") is the command's
		// syntax, not a command to type: left as it is.
		if strings.HasSuffix(s[:m[3]], "usage: ") {
			continue
		}
		b.WriteString(s[last:m[4]])
		if !strings.HasPrefix(s[m[4]:m[5]], "sudo ") && !needsNoRoot(s[m[2]:m[3]], s[m[6]:m[7]], s[m[5]:]) {
			b.WriteString("sudo ")
		}
		b.WriteString(s[m[4]:m[5]])
		if stateDir != "" {
			b.WriteString(" --state-dir " + QuoteInQuotes(stateDir))
		}
		last = m[5]
	}
	b.WriteString(s[last:])
	return b.String()
}

// needsNoRoot reports whether the quoted command that rest begins, of
// workshop's subcommand sub, opened by open, needs no root, and so no sudo:
// one asking for its help ('workshop step 3 --help'), or a lab's exercise
// ('workshop lab 1'), which only its check ('workshop lab 1 check') needs
// root for. A command not in quotes or parentheses runs on to who knows
// where: it gets its sudo.
func needsNoRoot(open, sub, rest string) bool {
	closer := open
	switch open {
	case "(":
		closer = ")"
	case "'", "`":
	default:
		return false
	}
	end := strings.Index(rest, closer)
	if end < 0 {
		return false
	}
	cmd := rest[:end]
	return strings.HasSuffix(cmd, " --help") || sub == "lab" && !strings.Contains(cmd, " check")
}

// Quote writes s so that a shell reads it back as one word: as it is when
// it holds only characters a shell leaves alone, else in single quotes,
// each quote inside written as a closing quote, an escaped one, an opening
// one.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteWords is a command line a shell reads back as these words: each
// one Quoted, one space between.
func QuoteWords(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = Quote(w)
	}
	return strings.Join(quoted, " ")
}

// QuoteInQuotes is Quote for a word inside a suggested command that the
// sentence itself puts in single quotes ('workshop clean'): in double
// quotes, so that its quotes and the sentence's are told apart
// ('workshop --state-dir "/tmp/my dir" clean', not '… '/tmp/my dir' …').
// A word with a "!", which an interactive bash expands even there, keeps
// Quote's single quotes.
func QuoteInQuotes(s string) string {
	if q := Quote(s); q == s || strings.Contains(s, "!") {
		return q
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}
