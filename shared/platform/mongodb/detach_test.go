package mongodb_test

import (
	"context"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// TestDetach: a detached write survives its request's cancellation, and ends at the soonest of its
// own timeout, the follow-up deadline and (without one) the request's deadline.
func TestDetach(t *testing.T) {
	near := func(got time.Time, want time.Time) bool {
		d := got.Sub(want)
		return d > -50*time.Millisecond && d < 50*time.Millisecond
	}
	now := time.Now()

	ctx, cancel := context.WithCancel(context.Background())
	d, dcancel := mongodb.Detach(ctx, time.Second)
	cancel()
	if dl, ok := d.Deadline(); !ok || !near(dl, now.Add(time.Second)) || d.Err() != nil {
		t.Errorf("no request deadline: deadline %v (%v), err %v; want its own timeout and not cancelled", dl, ok, d.Err())
	}
	dcancel()

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	d, dcancel = mongodb.Detach(ctx, time.Second)
	if dl, _ := d.Deadline(); !near(dl, now.Add(200*time.Millisecond)) {
		t.Errorf("request deadline sooner than the timeout: deadline in %v", time.Until(dl))
	}
	dcancel()
	cancel()

	ctx, cancel = context.WithTimeout(mongodb.WithFollowUpDeadline(context.Background(), now.Add(500*time.Millisecond)), 100*time.Millisecond)
	d, dcancel = mongodb.Detach(ctx, time.Second)
	if dl, _ := d.Deadline(); !near(dl, now.Add(500*time.Millisecond)) {
		t.Errorf("follow-up deadline: deadline in %v, want about 500ms (later than the request's own)", time.Until(dl))
	}
	dcancel()
	cancel()

	d, dcancel = mongodb.Detach(mongodb.WithFollowUpDeadline(context.Background(), now.Add(time.Hour)), time.Second)
	if dl, _ := d.Deadline(); !near(dl, now.Add(time.Second)) {
		t.Errorf("timeout sooner than the follow-up deadline: deadline in %v", time.Until(dl))
	}
	dcancel()
}
