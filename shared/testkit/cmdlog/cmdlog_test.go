package cmdlog

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// cmd is a command that ran from start to end, in milliseconds after t0; end < 0 leaves it
// unanswered.
func cmd(name string, start, end int) Command {
	c := Command{Name: name, Start: t0.Add(time.Duration(start) * time.Millisecond)}
	if end >= 0 {
		c.End = t0.Add(time.Duration(end) * time.Millisecond)
	}
	return c
}

func TestLevelsOf(t *testing.T) {
	tests := []struct {
		name string
		cmds []Command
		want Levels
	}{
		{"none", nil, Levels{}},
		{"one", []Command{cmd("find", 0, 80)}, Levels{"find"}},
		{"overlapping: one level, names sorted",
			[]Command{cmd("find", 0, 80), cmd("aggregate", 1, 81), cmd("find", 2, 79)},
			Levels{"aggregate find find"}},
		{"strictly sequential",
			[]Command{cmd("insert", 0, 80), cmd("findAndModify", 81, 160), cmd("update", 161, 240)},
			Levels{"insert", "findAndModify", "update"}},
		{"a command that starts the instant the previous one ends waited for it",
			[]Command{cmd("insert", 0, 80), cmd("find", 80, 160)},
			Levels{"insert", "find"}},
		{"fan-out then fan-in",
			[]Command{cmd("find", 0, 80), cmd("find", 81, 160), cmd("aggregate", 82, 161), cmd("update", 162, 240)},
			Levels{"find", "aggregate find", "update"}},
		// A long command spans two short sequential ones: it overlaps both, so it is on the
		// first level, and the second short one is on the second.
		{"nested",
			[]Command{cmd("aggregate", 0, 300), cmd("find", 10, 90), cmd("update", 100, 180)},
			Levels{"aggregate find", "update"}},
		// The depth is the longest chain behind a command, not the count of those ended before it.
		{"longest chain wins",
			[]Command{cmd("insert", 0, 80), cmd("find", 0, 10), cmd("update", 81, 160), cmd("insert", 161, 240)},
			Levels{"find insert", "update", "insert"}},
		// A command still running when the request returned had nothing waiting for it.
		{"unfinished",
			[]Command{cmd("insert", 0, -1), cmd("find", 100, 180)},
			Levels{"find insert"}},
		{"unfinished after a chain",
			[]Command{cmd("find", 0, 80), cmd("update", 81, -1), cmd("insert", 200, 280)},
			Levels{"find", "insert update"}},
		// Callers concatenate filtered slices (the price reads after the rest): order does not matter.
		{"out of start order",
			[]Command{cmd("update", 161, 240), cmd("insert", 0, 80), cmd("findAndModify", 81, 160), cmd("find", 1, 79)},
			Levels{"find insert", "findAndModify", "update"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.cmds)
			got := LevelsOf(in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("LevelsOf = %q, want %q", got, tt.want)
			}
			if !slices.Equal(in, tt.cmds) {
				t.Errorf("LevelsOf reordered its argument: %v", in)
			}
		})
	}
}

func TestLevelsString(t *testing.T) {
	if got, want := (Levels{"find", "aggregate find"}).String(), "find → aggregate find"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (Levels{}).String(); got != "" {
		t.Errorf("String of no levels = %q", got)
	}
}

// started is the driver's event for a command with the given body.
func started(t *testing.T, id int64, db string, body bson.D) *event.CommandStartedEvent {
	t.Helper()
	raw, err := bson.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return &event.CommandStartedEvent{Command: raw, CommandName: body[0].Key, DatabaseName: db, RequestID: id}
}

func TestLogRecordsThroughTheMonitor(t *testing.T) {
	log := &Log{Tag: func(c Command, body bson.Raw) string {
		if _, err := body.LookupErr("filter", "revoked_at"); c.Name == "find" && err == nil {
			return "revocations"
		}
		return ""
	}}
	m := log.Monitor()
	ctx := context.Background()

	m.Started(ctx, started(t, 1, "app", bson.D{{Key: "ping", Value: 1}}))
	m.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 1}})
	mark := log.Mark()
	m.Started(ctx, started(t, 2, "app", bson.D{{Key: "find", Value: "sessions"}, {Key: "filter", Value: bson.D{{Key: "revoked_at", Value: bson.D{{Key: "$ne", Value: nil}}}}}}))
	m.Started(ctx, started(t, 3, "app", bson.D{{Key: "insert", Value: "orders"}}))
	m.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 3}})
	m.Started(ctx, started(t, 4, "other", bson.D{{Key: "find", Value: "sessions"}, {Key: "filter", Value: bson.D{}}}))

	if n := log.Count(0); n != 4 {
		t.Errorf("Count(0) = %d, want 4", n)
	}
	if n := log.Count(mark); n != 3 {
		t.Errorf("Count(mark) = %d, want 3", n)
	}
	got := log.Since(mark)
	type rec struct {
		name, db, coll, tag string
		ended               bool
	}
	want := []rec{
		{"find", "app", "sessions", "revocations", false},
		{"insert", "app", "orders", "", true}, // a failure ends a command too
		{"find", "other", "sessions", "", false},
	}
	if len(got) != len(want) {
		t.Fatalf("Since(mark) has %d commands, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		if r := (rec{c.Name, c.Database, c.Collection, c.Tag, !c.End.IsZero()}); r != want[i] {
			t.Errorf("command %d = %+v, want %+v", i, r, want[i])
		}
		if i > 0 && c.Start.Before(got[i-1].Start) {
			t.Errorf("command %d started before command %d: the log is not in start order", i, i-1)
		}
	}
	if names := Names(got); !slices.Equal(names, []string{"find", "insert", "find"}) {
		t.Errorf("Names = %q", names)
	}
	// The failed insert ended before the last find started.
	if lv := log.Levels(mark); !slices.Equal(lv, Levels{"find insert", "find"}) {
		t.Errorf("Levels(mark) = %q", lv)
	}
	// An answer that comes after Since returned updates the log, not the copy.
	m.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 2}})
	if !got[0].End.IsZero() || log.Since(mark)[0].End.IsZero() {
		t.Error("the answer did not end the logged command only")
	}
	// An answer to a command the log never saw (started before the monitor was in place) is ignored.
	m.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 99}})
	if n := log.Count(0); n != 4 {
		t.Errorf("Count(0) = %d after a stray answer, want 4", n)
	}
}

// TestLogIsSafeForConcurrentUse: a client's connections report commands from many goroutines
// while the test reads the log (run with -race).
func TestLogIsSafeForConcurrentUse(t *testing.T) {
	var log Log
	m := log.Monitor()
	ctx := context.Background()
	const goroutines, each = 8, 100
	body := started(t, 0, "app", bson.D{{Key: "find", Value: "c"}})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				id := int64(g*each + i)
				e := *body
				e.RequestID = id
				m.Started(ctx, &e)
				_ = log.Levels(log.Mark() - 1)
				m.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: id}})
			}
		})
	}
	wg.Wait()
	cmds := log.Since(0)
	if len(cmds) != goroutines*each {
		t.Fatalf("%d commands logged, want %d", len(cmds), goroutines*each)
	}
	for i, c := range cmds {
		if c.End.IsZero() {
			t.Fatalf("command %d never ended", i)
		}
	}
}
