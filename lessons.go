// Package workshop holds what the whole binary shares from the top of the
// repository: the lessons. LESSONS.md is embedded so that --explain and
// `workshop lab` print the very text a student reads beside the tool, never
// a copy that could drift from it.
package workshop

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed LESSONS.md
var lessons string

// stepHeading is compiled on first use: every workshop process, the
// container's init too, would otherwise pay for it at start.
var stepHeading = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^## Step (\d+):`) })

// Lesson returns the section of step n: from its "## Step n:" heading up to
// the next "## " heading.
func Lesson(n int) (string, error) {
	lines := strings.Split(lessons, "\n")
	start := -1
	for i, l := range lines {
		if start >= 0 && strings.HasPrefix(l, "## ") {
			return strings.TrimSpace(strings.Join(lines[start:i], "\n")) + "\n", nil
		}
		if m := stepHeading().FindStringSubmatch(l); m != nil && m[1] == fmt.Sprint(n) {
			start = i
		}
	}
	if start >= 0 {
		return strings.TrimSpace(strings.Join(lines[start:], "\n")) + "\n", nil
	}
	return "", fmt.Errorf("LESSONS.md has no section for step %d", n)
}

// Section returns the section whose "## " heading starts with title (for
// the parts that are not a step: "Introduction", "Beyond this workshop").
func Section(title string) (string, error) {
	lines := strings.Split(lessons, "\n")
	start := -1
	for i, l := range lines {
		if start >= 0 && strings.HasPrefix(l, "## ") {
			return strings.TrimSpace(strings.Join(lines[start:i], "\n")) + "\n", nil
		}
		if strings.HasPrefix(l, "## "+title) {
			start = i
		}
	}
	if start >= 0 {
		return strings.TrimSpace(strings.Join(lines[start:], "\n")) + "\n", nil
	}
	return "", fmt.Errorf("LESSONS.md has no section %q", title)
}

// Subsection returns the "### title" part of step n's lesson.
func Subsection(n int, title string) (string, error) {
	sec, err := Lesson(n)
	if err != nil {
		return "", err
	}
	lines := strings.Split(sec, "\n")
	start := -1
	for i, l := range lines {
		if start >= 0 && strings.HasPrefix(l, "### ") {
			return strings.TrimSpace(strings.Join(lines[start:i], "\n")) + "\n", nil
		}
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(l, "### ")), title) && strings.HasPrefix(l, "### ") {
			start = i
		}
	}
	if start >= 0 {
		return strings.TrimSpace(strings.Join(lines[start:], "\n")) + "\n", nil
	}
	return "", fmt.Errorf("LESSONS.md has no %q part in step %d", title, n)
}

// Commands returns every command a lesson shows: the lines of fenced code
// blocks that start with "$ ", without the prompt.
// A test runs each of them, so the lessons cannot drift from the code.
func Commands(markdown string) []string {
	var cmds []string
	inBlock := false
	for _, l := range strings.Split(markdown, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock && strings.HasPrefix(l, "$ ") {
			cmds = append(cmds, strings.TrimSpace(strings.TrimPrefix(l, "$ ")))
		}
	}
	return cmds
}

// lessonWidth is the widest a line of a lesson is printed, in runes: a
// terminal's usual 100 or so. LESSONS.md's paragraphs run longer.
const lessonWidth = 100

// ForTerminal is a lesson's Markdown as a terminal shows it well, for
// --explain and lab N: headings underlined, not marked with #; code blocks
// indented, their fences gone; prose reflowed, paragraph by paragraph, at
// lessonWidth (a list item's continuation under its text). The words are
// the file's, in its order. Tables and code are left as they are.
func ForTerminal(md string) string {
	var out, para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, wrap(strings.Join(para, " "), lessonWidth)...)
			para = nil
		}
	}
	fence := "" // the open code block's fence, or ""
	for _, l := range strings.Split(strings.TrimRight(md, "\n"), "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				fence = ""
				continue
			}
			out = append(out, "    "+l)
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			flush()
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, trimmed[:1]))]
		case heading(l) != "":
			flush()
			title := heading(l)
			rule := "-"
			if strings.HasPrefix(l, "## ") || strings.HasPrefix(l, "# ") {
				rule = "="
			}
			out = append(out, title, strings.Repeat(rule, utf8.RuneCountInString(title)))
		case trimmed == "" || strings.HasPrefix(l, "|"):
			flush()
			out = append(out, l)
		case len(para) == 0 || listMarkLen(trimmed) > 0:
			// A paragraph's first line, or a list item's.
			flush()
			para = []string{strings.TrimRight(l, " ")}
		default:
			para = append(para, trimmed)
		}
	}
	flush()
	return strings.Join(out, "\n") + "\n"
}

// heading is the title of a Markdown heading line ("## Step 1: chroot"),
// or "" for any other line.
func heading(l string) string {
	marks := len(l) - len(strings.TrimLeft(l, "#"))
	if marks == 0 || marks > 6 || !strings.HasPrefix(l[marks:], " ") {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(l[marks:]), "#"))
}

// wrap cuts line at spaces into lines of at most width runes (a word
// longer than that stays whole), each after the first indented as the
// text of the first is, past a list item's "- " or "1. ". Runs of spaces
// inside it stay.
func wrap(line string, width int) []string {
	body := strings.TrimLeft(line, " ")
	if utf8.RuneCountInString(line) <= width || strings.TrimSpace(body) == "" {
		return []string{line}
	}
	lead := line[:len(line)-len(body)]
	indent := lead + strings.Repeat(" ", listMarkLen(body))
	words := strings.Split(body, " ")
	lines := []string{}
	cur := lead + words[0]
	for _, w := range words[1:] {
		if w != "" && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) > width && strings.TrimSpace(cur) != "" {
			lines = append(lines, strings.TrimRight(cur, " "))
			cur = indent + w
			continue
		}
		cur += " " + w
	}
	return append(lines, strings.TrimRight(cur, " "))
}

// listMarkLen is the length of a list item's mark at the start of text
// ("- ", "12. "), or 0.
func listMarkLen(text string) int {
	if strings.HasPrefix(text, "- ") || strings.HasPrefix(text, "* ") {
		return 2
	}
	digits := len(text) - len(strings.TrimLeft(text, "0123456789"))
	if digits > 0 && strings.HasPrefix(text[digits:], ". ") {
		return digits + 2
	}
	return 0
}
