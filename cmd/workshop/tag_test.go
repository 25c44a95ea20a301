package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
)

// An image removed between tag's look for it and the tag itself (an
// 'image rm' at the same moment): the built-in base image is made again
// and tagged, as a tag alone would have; another image is said missing,
// once.
func TestTagOfAnImageRemovedMeanwhile(t *testing.T) {
	testbin.NeedRoot(t) // the store's files are root's
	s := imagetar.OpenStore(t.TempDir())
	n := sys.New(nil, sys.Options{Quiet: true})
	ctx := context.Background()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pack(ctx, n, root, "demo:1"); err != nil {
		t.Fatal(err)
	}
	removals := 0
	defer func(old func(*imagetar.Store)) { betweenFindAndTag = old }(betweenFindAndTag)
	betweenFindAndTag = func(s *imagetar.Store) {
		if removals == 0 {
			removals++
			for _, ref := range []string{"demo:1", imagetar.BaseRef} {
				if _, _, err := s.Remove(n, ref); err != nil && !errors.Is(err, imagetar.ErrNotFound) {
					t.Fatalf("remove %s: %v", ref, err)
				}
			}
		}
	}

	_, _, err := tagFound(ctx, s, n, "demo:1", "other:1")
	if !errors.Is(err, imagetar.ErrNotFound) || !strings.Contains(err.Error(), "there is no image demo:1") {
		t.Errorf("tag of demo:1, removed between its look and its tag = %v; want demo:1 said missing", err)
	}

	removals = 0
	img, _, err := tagFound(ctx, s, n, "base", "mine:1")
	if err != nil || img.Ref.String() != "mine:1" || removals != 1 {
		t.Fatalf("tag of the base image, removed between its look and its tag = %v, %v (removals %d); want it made again and tagged", img.Ref, err, removals)
	}
	if _, err := s.Resolve(imagetar.BaseRef); err != nil {
		t.Errorf("the base image after the tag: %v", err)
	}
}
