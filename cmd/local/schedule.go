package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"
)

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// parseRate reads an EventBridge rate expression. Cron expressions are not run locally.
func parseRate(expr string) (time.Duration, error) {
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		return 0, fmt.Errorf("unsupported schedule expression %q (only rate(...) runs locally)", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad rate in %q", expr)
	}
	unit := map[string]time.Duration{
		"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}[m[2]]
	return time.Duration(n) * unit, nil
}

// scheduledEvent is the EventBridge event a rule sends.
func scheduledEvent(now time.Time) json.RawMessage {
	ev, _ := json.Marshal(map[string]any{
		"version": "0", "id": newRequestID(), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "time": now.UTC().Format(time.RFC3339), "region": "local",
		"resources": []string{}, "detail": map[string]any{},
	})
	return ev
}

// runSchedules invokes every scheduled function once at start (so the market has prices at once)
// and then at its rate, until ctx ends; the returned channel closes when all runs have returned
// (so shutdown never closes the database under a run).
func (g *gateway) runSchedules(ctx context.Context) <-chan struct{} {
	var wg sync.WaitGroup
	for _, m := range g.functions {
		for _, every := range g.intervals(m) {
			wg.Go(func() {
				run := func(now time.Time) {
					if _, err := m.fn.Handle(ctx, scheduledEvent(now)); err != nil && ctx.Err() == nil {
						g.log.Error("scheduled run failed", "function", m.fn.Name, "error", err.Error())
					}
				}
				run(time.Now())
				t := time.NewTicker(every)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case now := <-t.C:
						run(now)
					}
				}
			})
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// intervals are the periods a function runs at locally.
func (g *gateway) intervals(m mounted) []time.Duration {
	if m.every > 0 {
		return []time.Duration{m.every}
	}
	var out []time.Duration
	for _, expr := range m.schedules {
		every, err := parseRate(expr)
		if err != nil {
			g.log.Warn("schedule not run locally", "function", m.fn.Name, "error", err.Error())
			continue
		}
		out = append(out, every)
	}
	return out
}
