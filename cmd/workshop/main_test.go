package main

import (
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// The integration tests run the real binary (internal/testbin builds it once).
// Tests of a step live beside the step; here are those of the command line.

func TestMain(m *testing.M) { testbin.Main(m) }
