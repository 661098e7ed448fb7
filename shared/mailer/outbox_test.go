package mailer_test

import (
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/mailer"
)

var outboxName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.eml$`)

func TestOutboxRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  mailer.Message
	}{
		{"plain", mailer.Message{To: "alice@example.com", Subject: "Verify your email", Text: secretBody}},
		{"multi-line body", mailer.Message{To: "bob@example.com", Subject: "Code", Text: "Hello,\n\n" + secretBody + "\n\n-- \nCryptoVault\n"}},
		{"non-ASCII", mailer.Message{To: "zoë@example.com", Subject: "Bestätigung – 確認 ✓", Text: "Grüße, " + secretBody}},
		{"subject that looks encoded", mailer.Message{To: "c@example.com", Subject: "=?utf-8?q?not_really?=", Text: "x"}},
		{"subject with multi-byte characters at word boundaries", mailer.Message{To: "c@example.com", Subject: strings.Repeat("€", 40), Text: "x"}},
		{"subject with spaces", mailer.Message{To: "c@example.com", Subject: "  two  spaces  ", Text: "x"}},
		{"long subject", mailer.Message{To: "d@example.com", Subject: strings.Repeat("Bestätigung ", 30), Text: "x"}},
		{"body that looks like headers", mailer.Message{To: "e@example.com", Subject: "s", Text: "To: evil@example.com\nSubject: x\n\nbody"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			box := mailer.NewOutbox(t.TempDir())
			if err := box.Send(ctxT(t), tt.msg); err != nil {
				t.Fatal(err)
			}
			got, err := box.Messages()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tt.msg {
				t.Fatalf("Messages() = %q, want [%q]", got, tt.msg)
			}
		})
	}
}

// The file is a readable RFC 5322 message with To, Subject and Date, in a
// private folder.
func TestOutboxFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox") // created on demand, parents too
	box := mailer.NewOutbox(dir)
	if box.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", box.Dir(), dir)
	}
	before := time.Now().Add(-time.Second)
	m := mailer.Message{To: "alice@example.com", Subject: "Verify your email", Text: secretBody}
	if err := box.Send(ctxT(t), m); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !outboxName.MatchString(entries[0].Name()) {
		t.Fatalf("outbox holds %v, want one file named <timestamp>-<random>.eml", entries)
	}
	path := filepath.Join(dir, entries[0].Name())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parsed, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Header.Get("To"); got != m.To {
		t.Errorf("To = %q", got)
	}
	if got := parsed.Header.Get("Subject"); got != m.Subject {
		t.Errorf("Subject = %q", got)
	}
	date, err := parsed.Header.Date()
	if err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %v, %v; want about now", date, err)
	}

	if runtime.GOOS == "windows" {
		return // no Unix permission bits
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", filepath.Base(path), got, want)
		}
	}
}

// Messages come back in the order they were sent, even when sends follow
// each other faster than the clock ticks.
func TestOutboxOrder(t *testing.T) {
	box := mailer.NewOutbox(t.TempDir())
	const n = 50
	for i := range n {
		m := mailer.Message{To: "alice@example.com", Subject: fmt.Sprintf("message %d", i), Text: "x"}
		if err := box.Send(ctxT(t), m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := box.Messages()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("message %d", i); m.Subject != want {
			t.Fatalf("message %d is %q, want %q", i, m.Subject, want)
		}
	}
}

// Concurrent senders, including two Outboxes on one folder (two local
// functions sharing the data folder), never overwrite each other.
func TestOutboxConcurrentSendersNeverCollide(t *testing.T) {
	dir := t.TempDir()
	boxes := []*mailer.Outbox{mailer.NewOutbox(dir), mailer.NewOutbox(dir)}
	const perBox = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*perBox)
	for b, box := range boxes {
		for i := range perBox {
			wg.Go(func() {
				errs <- box.Send(context.Background(), mailer.Message{
					To: "alice@example.com", Subject: fmt.Sprintf("box %d message %d", b, i), Text: "x",
				})
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := boxes[0].Messages()
	if err != nil {
		t.Fatal(err)
	}
	subjects := make([]string, 0, len(got))
	for _, m := range got {
		subjects = append(subjects, m.Subject)
	}
	slices.Sort(subjects)
	if len(slices.Compact(subjects)) != 2*perBox {
		t.Errorf("got %d distinct messages, want %d", len(slices.Compact(subjects)), 2*perBox)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !outboxName.MatchString(e.Name()) {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestOutboxMessages(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    int
	}{
		{name: "missing folder is empty", prepare: func(t *testing.T, dir string) {}},
		{name: "empty folder", prepare: func(t *testing.T, dir string) { mkdir(t, dir) }},
		{name: "files being written and foreign files are skipped", prepare: func(t *testing.T, dir string) {
			mkdir(t, dir)
			write(t, filepath.Join(dir, ".sending-123"), "To: a@example.com\nSubject: half")
			write(t, filepath.Join(dir, "notes.txt"), "not mail")
			mkdir(t, filepath.Join(dir, "sub.eml"))
			if err := mailer.NewOutbox(dir).Send(context.Background(),
				mailer.Message{To: "a@example.com", Subject: "s", Text: "x"}); err != nil {
				t.Fatal(err)
			}
		}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "outbox")
			tt.prepare(t, dir)
			got, err := mailer.NewOutbox(dir).Messages()
			if err != nil || len(got) != tt.want {
				t.Errorf("Messages() = %d messages, %v; want %d, nil", len(got), err, tt.want)
			}
		})
	}
}

func TestOutboxSendFailures(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	blocked := filepath.Join(t.TempDir(), "file")
	write(t, blocked, "a file where the folder should be")

	tests := []struct {
		name string
		ctx  context.Context
		dir  string
	}{
		{name: "canceled context", ctx: canceled, dir: filepath.Join(t.TempDir(), "outbox")},
		{name: "folder cannot be created", ctx: context.Background(), dir: filepath.Join(blocked, "outbox")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mailer.NewOutbox(tt.dir).Send(tt.ctx, mailer.Message{To: "a@example.com", Subject: "s", Text: secretBody})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if strings.Contains(err.Error(), "493817") {
				t.Errorf("error contains the body: %v", err)
			}
			if _, statErr := os.Stat(tt.dir); statErr == nil {
				t.Error("the outbox folder was created")
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
