package imagetar

import (
	"context"
	"errors"
)

// InterruptedError is what a pack or an unpack returns when its context was
// cancelled (workshop cancels it on a stop signal: Ctrl-C, SIGTERM, SIGHUP,
// SIGQUIT) once what it had half made is removed (or, for step 5, before its
// command ran): What says what became of the work, in words for the student.
type InterruptedError struct {
	What  string // "the half-made /…/step5/walkthrough.tar was removed"
	Cause error  // context.Cause of the cancelled context: why it stopped
}

func (e *InterruptedError) Error() string { return why(e.Cause) + ": " + e.What }

// why says what stopped a context whose cause is cause: workshop cancels
// with a cause that names the signal ("interrupted by SIGINT").
func why(cause error) string {
	if cause == nil || errors.Is(cause, context.Canceled) {
		return "interrupted"
	}
	return cause.Error()
}

func (e *InterruptedError) Unwrap() error { return e.Cause }

// interrupted reports whether err is ctx's cancellation (as opposed to a
// failure that happened to come while ctx was being cancelled).
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}
