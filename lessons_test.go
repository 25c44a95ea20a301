package workshop

import (
	"strings"
	"testing"
)

func TestLessonSections(t *testing.T) {
	for n := 1; n <= 6; n++ {
		sec, err := Lesson(n)
		if err != nil {
			t.Fatalf("Lesson(%d) = %v", n, err)
		}
		if !strings.HasPrefix(sec, "## Step ") {
			t.Errorf("Lesson(%d) starts %q, want its heading", n, sec[:20])
		}
		if strings.Contains(sec[3:], "\n## ") {
			t.Errorf("Lesson(%d) runs into the next section", n)
		}
	}
	if _, err := Lesson(9); err == nil {
		t.Errorf("Lesson(9) = nil error, want one")
	}
}

func TestCommands(t *testing.T) {
	md := "text\n$ not a command\n```sh\n$ sudo workshop step 1\noutput line\n$ ls /\n```\n"
	got := Commands(md)
	if len(got) != 2 || got[0] != "sudo workshop step 1" || got[1] != "ls /" {
		t.Errorf("Commands = %q, want the two prompted lines in the block", got)
	}
}

func TestForTerminal(t *testing.T) {
	md := "## Step 9: a title\n\nShort.\n" +
		"- " + strings.Repeat("word ", 30) + "end\n" +
		"```\n$ sudo workshop step 9 --with-a-very-long-flag " + strings.Repeat("x", 100) + "\noutput\n```\n" +
		"### Aside\n| a | table " + strings.Repeat("wide ", 30) + "|\n"
	got := ForTerminal(md)
	want := "Step 9: a title\n" + strings.Repeat("=", 15) + "\n\nShort.\n" +
		"- " + strings.TrimSpace(strings.Repeat("word ", 19)) + "\n" +
		"  " + strings.Repeat("word ", 11) + "end\n" +
		"    $ sudo workshop step 9 --with-a-very-long-flag " + strings.Repeat("x", 100) + "\n    output\n" +
		"Aside\n-----\n| a | table " + strings.Repeat("wide ", 30) + "|\n"
	if got != want {
		t.Errorf("ForTerminal =\n%s\nwant\n%s", got, want)
	}
	// Every word of every lesson is kept, in order.
	for n := 1; n <= 6; n++ {
		sec, _ := Lesson(n)
		var md, term []string
		for _, l := range strings.Split(sec, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				continue // a fence: gone
			}
			if strings.HasPrefix(l, "#") {
				l = strings.TrimLeft(l, "#") // a heading's marks: gone
			}
			md = append(md, strings.Fields(l)...)
		}
		for _, l := range strings.Split(ForTerminal(sec), "\n") {
			if l != "" && (strings.Trim(l, "=") == "" || strings.Trim(l, "-") == "") {
				continue // a heading's underline
			}
			term = append(term, strings.Fields(l)...)
		}
		if strings.Join(md, " ") != strings.Join(term, " ") {
			t.Errorf("step %d: ForTerminal lost or changed words", n)
		}
		for _, l := range strings.Split(ForTerminal(sec), "\n") {
			if !strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "|") && len([]rune(l)) > lessonWidth && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("step %d: a line of prose wider than %d: %q", n, lessonWidth, l)
			}
		}
	}
}

// The Markdown ForTerminal meets at its edges.
func TestForTerminalEdges(t *testing.T) {
	long := strings.Repeat("word ", 25) // 125 runes
	for _, tc := range []struct{ name, md, want string }{
		{"a line of spaces alone", strings.Repeat(" ", 120) + "\n", strings.Repeat(" ", 120) + "\n"},
		{"a # that is no heading", "#include <x>\n", "#include <x>\n"},
		{"closing #s", "## T ##\n", "T\n=\n"},
		{"a fence inside a longer one", "````\n```\ncode\n```\n````\nafter\n", "    ```\n    code\n    ```\nafter\n"},
		{"runs of spaces kept", "`ls  -l` " + long + "\n", "`ls  -l` " + strings.TrimSpace(strings.Repeat("word ", 18)) + "\n" + strings.TrimSpace(strings.Repeat("word ", 7)) + "\n"},
		{"a paragraph reflowed, not cut line by line", strings.Repeat("a ", 55) + "\nshort end.\n", strings.TrimSpace(strings.Repeat("a ", 50)) + "\n" + strings.TrimSpace(strings.Repeat("a ", 5)) + " short end.\n"},
		{"a list item's continuation joined under its text", "- one\n  two\n- three\n", "- one two\n- three\n"},
	} {
		if got := ForTerminal(tc.md); got != tc.want {
			t.Errorf("%s: ForTerminal(%q) =\n%q\nwant\n%q", tc.name, tc.md, got, tc.want)
		}
	}
}
