package hint

import "testing"

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
