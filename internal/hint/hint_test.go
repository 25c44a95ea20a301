package hint

import (
	"testing"
)

func TestRewrite(t *testing.T) {
	defer SetStateDir("")
	for _, tc := range []struct{ dir, in, want string }{
		// Every suggested command gets sudo, as the lessons type it.
		{"", "'workshop clean' removes it", "'sudo workshop clean' removes it"},
		{"", "next: `sudo workshop step 2` copies bash", "next: `sudo workshop step 2` copies bash"},
		{"", "stop it first (workshop kill abc)", "stop it first (sudo workshop kill abc)"},
		{"", "(workshop kill $(workshop ps -q))", "(sudo workshop kill $(sudo workshop ps -q))"},
		{"", "its workshop process is gone", "its workshop process is gone"},
		// Help needs no root.
		{"", "(see 'workshop step 3 --help')", "(see 'workshop step 3 --help')"},
		// Nor does a lab's exercise; its check does.
		{"", "'workshop lab 1' prints step 1's exercise, 'workshop lab 1 check' looks at your work",
			"'workshop lab 1' prints step 1's exercise, 'sudo workshop lab 1 check' looks at your work"},
		{"", "When you are done: workshop lab 2 check", "When you are done: sudo workshop lab 2 check"},
		{"", "nothing after them: workshop lab '1;touch x' check", "nothing after them: sudo workshop lab '1;touch x' check"},
		{"", "(workshop lab 3 check)", "(sudo workshop lab 3 check)"},
		{"/tmp/st", "'workshop clean' removes it", "'sudo workshop --state-dir /tmp/st clean' removes it"},
		{"/tmp/st", "next: `sudo workshop step 2` copies bash", "next: `sudo workshop --state-dir /tmp/st step 2` copies bash"},
		{"/tmp/st", "When you are done: sudo workshop lab 2 check", "When you are done: sudo workshop --state-dir /tmp/st lab 2 check"},
		{"/tmp/st", "stop it first (workshop kill abc)", "stop it first (sudo workshop --state-dir /tmp/st kill abc)"},
		{"/tmp/st", "'workshop diff x' shows it, 'workshop clean' removes it",
			"'sudo workshop --state-dir /tmp/st diff x' shows it, 'sudo workshop --state-dir /tmp/st clean' removes it"},
		// A path that needs quoting, and a dollar sign that is no group.
		// In double quotes inside the sentence's single ones.
		{"/tmp/my $dir", "'workshop ps'", `'sudo workshop --state-dir "/tmp/my \$dir" ps'`},
		{"/tmp/it's", "'workshop ps'", `'sudo workshop --state-dir "/tmp/it's" ps'`},
		{`/tmp/a"b\c`, "'workshop ps'", `'sudo workshop --state-dir "/tmp/a\"b\\c" ps'`},
		// A "!" would be expanded by an interactive bash in double quotes.
		{"/tmp/wow!", "'workshop ps'", `'sudo workshop --state-dir '/tmp/wow!' ps'`},
		{"/tmp/st", "$ sudo workshop full run --name lab6 -- /bin/sh", "$ sudo workshop --state-dir /tmp/st full run --name lab6 -- /bin/sh"},
		// Not a suggestion: workshop is a word of the sentence.
		{"/tmp/st", "left by a workshop lab 5 check that was killed", "left by a workshop lab 5 check that was killed"},
		{"/tmp/st", "its workshop process is gone", "its workshop process is gone"},
		{"/tmp/st", "'workshop steps' lists them", "'workshop steps' lists them"},
		// A usage line is syntax, not a command to type.
		{"/tmp/st", "usage: workshop image pack DIR NAME[:TAG]", "usage: workshop image pack DIR NAME[:TAG]"},
		{"/tmp/st", "usage: workshop image pack DIR NAME (see 'workshop image --help')", "usage: workshop image pack DIR NAME (see 'workshop --state-dir /tmp/st image --help')"},
		{"/tmp/st", "run 'workshop doctor' to see", "run 'sudo workshop --state-dir /tmp/st doctor' to see"},
		// Already given one (lab 6's solution): left alone.
		// (Rewriting twice changes nothing.)
		{"/tmp/st", "'sudo workshop --state-dir /tmp/st full run'", "'sudo workshop --state-dir /tmp/st full run'"},
	} {
		SetStateDir(tc.dir)
		if got := Rewrite(tc.in); got != tc.want {
			t.Errorf("with %q: Rewrite(%q) = %q, want %q", tc.dir, tc.in, got, tc.want)
		}
		if got := Rewrite(Rewrite(tc.in)); got != tc.want {
			t.Errorf("with %q: Rewrite twice of %q = %q, want %q", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/var/lib/workshop/my-new-root", "/var/lib/workshop/my-new-root"},
		{"/tmp/my root", "'/tmp/my root'"},
		{"/tmp/it's", `'/tmp/it'\''s'`},
		{"/tmp/$HOME;rm", "'/tmp/$HOME;rm'"},
		{"", "''"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Cases of Rewrite and Quote at the edges of their rules: the quotes a
// sentence opens (a backquote too), one it never closes, and the shell
// characters a state dir may hold that only some quotes stop.
func TestRewriteQuoteEdges(t *testing.T) {
	defer SetStateDir("")
	for _, tc := range []struct{ dir, in, want string }{
		// Help in backquotes needs no root, as in single quotes: without
		// the backquote counted as a quote, it would get a sudo.
		{"", "(see `workshop step 3 --help`)", "(see `workshop step 3 --help`)"},
		{"", "`workshop lab 1` prints the exercise", "`workshop lab 1` prints the exercise"},
		// A quote never closed says nothing of where the command ends: it
		// gets its sudo. Taken as running to the end of the sentence,
		// "'workshop lab 1" would be a lab's exercise, without one.
		{"", "then type 'workshop lab 1", "then type 'sudo workshop lab 1"},
		{"", "(see 'workshop step 3 --help", "(see 'sudo workshop step 3 --help"},
		// A backquote inside double quotes still runs a command: escaped,
		// the state dir "/tmp/a`id`" is a name, not a call of id.
		{"/tmp/a`id`", "'workshop ps'", "'sudo workshop --state-dir \"/tmp/a\\`id\\`\" ps'"},
	} {
		SetStateDir(tc.dir)
		if got := Rewrite(tc.in); got != tc.want {
			t.Errorf("with %q: Rewrite(%q) = %q, want %q", tc.dir, tc.in, got, tc.want)
		}
	}
}

// A "~" at the start of a word is the home directory to a shell: Quote
// must quote it, or a state dir "~/st" (st in a directory named ~, in the
// current one, as the flag was given) would be typed back as $HOME/st,
// another directory. A backquote is quoted too, or it runs a command.
func TestQuoteTilde(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"~/st", "'~/st'"},
		{"~", "'~'"},
		{"/tmp/a`id`", "'/tmp/a`id`'"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
