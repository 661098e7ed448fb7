// Package cmdlog records the Mongo commands a client sends, with their timing, so that a test can
// count a request's round trips: how many commands it sent, and how many of them had to wait for
// one another (the architecture's cost budget is stated in both).
package cmdlog

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

// Command is one command a client sent.
type Command struct {
	Name       string // "find", "insert", "findAndModify", ...
	Database   string
	Collection string // the collection the command names, "" when it names none
	Tag        string // what Log.Tag said of it
	// Start is when the driver handed the command to the connection, End when its answer (or
	// failure) came back; End is zero while it is unanswered.
	Start, End time.Time
}

// Log is a record of commands, fed by the monitor it returns, safe for concurrent use. The zero
// value is ready.
type Log struct {
	// Tag, when set, labels each command as it starts (Command.Tag) from the command as sent, for
	// tests that single out commands by their content (a filter's field, say). The body is not
	// kept: it may be large, and a log may see thousands of commands. Set it before Monitor.
	Tag func(c Command, body bson.Raw) string

	mu   sync.Mutex
	cmds []Command
	byID map[int64]int // unanswered commands by request id
}

// Monitor returns the driver's command monitor that feeds l: pass it to the client's options.
func (l *Log) Monitor() *event.CommandMonitor {
	finished := func(id int64) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if i, ok := l.byID[id]; ok {
			l.cmds[i].End = time.Now()
			delete(l.byID, id)
		}
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			c := Command{Name: e.CommandName, Database: e.DatabaseName}
			// The command's first element is its name, with the collection as its value.
			c.Collection, _ = e.Command.Lookup(e.CommandName).StringValueOK()
			if l.Tag != nil {
				c.Tag = l.Tag(c, e.Command)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			// Taken under the lock, so that the log is in start order.
			c.Start = time.Now()
			if l.byID == nil {
				l.byID = map[int64]int{}
			}
			l.byID[e.RequestID] = len(l.cmds)
			l.cmds = append(l.cmds, c)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { finished(e.RequestID) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { finished(e.RequestID) },
	}
}

// Mark is a point in a log: the commands started before it. The zero Mark is the log's start.
type Mark int

// Mark returns the point the log has reached: take it before the request to measure.
func (l *Log) Mark() Mark {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Mark(len(l.cmds))
}

// Since returns the commands started after m, in start order. A command still running has a zero
// End; it is updated in the log, not in the copy returned.
func (l *Log) Since(m Mark) []Command {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.cmds[m:])
}

// Count returns how many commands started after m.
func (l *Log) Count(m Mark) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cmds) - int(m)
}

// Names returns the commands' names, in the order of cmds.
func Names(cmds []Command) []string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name
	}
	return names
}

// Levels returns the levels of the commands started after m (see LevelsOf).
func (l *Log) Levels(m Mark) Levels { return LevelsOf(l.Since(m)) }

// Levels are commands grouped by their depth in the chain of commands that waited for one
// another: each level lists its command names, sorted and space separated ("aggregate find
// find"), and the number of levels is the sequential round trips.
type Levels []string

// String renders the chain as the reports print it: "find → aggregate find".
func (lv Levels) String() string { return strings.Join(lv, " → ") }

// LevelsOf groups cmds by depth: a command's depth is one more than the deepest command that
// ended before it started, so commands sent in parallel share a level. A command unanswered when
// the request returned never counts as ended: nothing waited for it. Measure with every command
// delayed (a devdb.Fault with Delay) so that commands sent together overlap whatever the
// scheduler does; commands that started at the same instant keep their order in cmds.
func LevelsOf(cmds []Command) Levels {
	cmds = slices.Clone(cmds)
	slices.SortStableFunc(cmds, func(a, b Command) int { return a.Start.Compare(b.Start) })
	depth := make([]int, len(cmds))
	var names [][]string
	for i, c := range cmds {
		depth[i] = 1
		for j := range i {
			if !cmds[j].End.IsZero() && !cmds[j].End.After(c.Start) {
				depth[i] = max(depth[i], depth[j]+1)
			}
		}
		for len(names) < depth[i] {
			names = append(names, nil)
		}
		names[depth[i]-1] = append(names[depth[i]-1], c.Name)
	}
	out := make(Levels, len(names))
	for i, level := range names {
		slices.Sort(level)
		out[i] = strings.Join(level, " ")
	}
	return out
}
