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
)

//go:embed LESSONS.md
var lessons string

// LessonsMarkdown is the whole of LESSONS.md.
func LessonsMarkdown() string { return lessons }

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
