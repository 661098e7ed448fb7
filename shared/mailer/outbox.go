package mailer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Outbox is the local and development Mailer: it writes each message to its
// own file in a folder, where a developer (or a test) reads the verification
// code. It never logs: a code in a log line would outlive its use in every
// log store the line reaches.
//
// Files are named "<UTC timestamp with nanoseconds>-<16 random hex>.eml", so
// that a directory listing sorts them by time and two processes sharing the
// folder cannot overwrite each other's messages. Within one Outbox the
// timestamps strictly increase, even when the clock is coarse or steps back.
// Each file is a plain-text RFC 5322 message (To, Subject, Date headers, then
// the text), readable as is or by a mail client. The folder is created with
// mode 0700 and the files with 0600: they hold codes.
type Outbox struct {
	dir string

	mu   sync.Mutex
	last time.Time // the last timestamp used in a file name
}

// outboxExt marks complete messages; files being written have another name
// (see Send) and are ignored by Messages.
const outboxExt = ".eml"

// stampLayout is fixed-width so that file names sort by time.
const stampLayout = "20060102T150405.000000000Z"

// NewOutbox returns an Outbox writing into dir, which is created on the first
// Send if it does not exist. An existing folder's mode is left as it is.
func NewOutbox(dir string) *Outbox {
	return &Outbox{dir: dir}
}

// Dir is the folder the Outbox writes to (for a startup message telling the
// developer where to look).
func (o *Outbox) Dir() string { return o.dir }

// Send writes m as a new file. The file appears complete or not at all: it is
// written under a temporary name and then renamed.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("mailer: create outbox: %w", err)
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("mailer: outbox file name: %w", err)
	}
	stamp := o.nextStamp()
	name := stamp.Format(stampLayout) + "-" + hex.EncodeToString(suffix[:]) + outboxExt

	// CreateTemp makes the file with mode 0600 and a name that cannot clash.
	f, err := os.CreateTemp(o.dir, ".sending-*")
	if err != nil {
		return fmt.Errorf("mailer: write outbox: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(render(m, stamp))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mailer: write outbox: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(o.dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mailer: write outbox: %w", err)
	}
	return nil
}

// nextStamp returns the current UTC time, or one nanosecond after the last
// stamp if the clock has not moved on, so that the order of file names is the
// order of Send calls.
func (o *Outbox) nextStamp() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now().UTC() // UTC also drops the monotonic reading: names use the wall clock
	if !now.After(o.last) {
		now = o.last.Add(time.Nanosecond)
	}
	o.last = now
	return now
}

// render formats m as a message file. The body is stored as 8-bit UTF-8 so
// that a developer can read it in any editor.
func render(m Message, date time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("To: " + m.To + "\n")
	b.WriteString("Subject: " + encodeSubject(m.Subject) + "\n")
	b.WriteString("Date: " + date.Format(time.RFC1123Z) + "\n")
	b.WriteString("MIME-Version: 1.0\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\n")
	b.WriteString("\n")
	b.WriteString(m.Text)
	return b.Bytes()
}

// encodeWordMax is the most subject bytes per RFC 2047 encoded-word: base64
// makes 45 bytes 60 characters, which with "=?utf-8?b?" and "?=" stays
// within the 75-character limit of an encoded-word.
const encodeWordMax = 45

// encodeSubject returns the subject as a header value that decodes back to
// exactly the same text. Printable ASCII is written as is, for readability;
// anything else, ASCII that a decoder would take for an encoded-word ("=?")
// and surrounding spaces (which header parsers trim) are written as base64 encoded-words, split on character boundaries.
// (mime.QEncoding.Encode leaves ASCII "=?...?=" alone, which would then be
// decoded on the way back.)
func encodeSubject(s string) string {
	plain := !strings.Contains(s, "=?") && strings.TrimSpace(s) == s // readers trim header values
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	var words []string
	for len(s) > 0 {
		n := min(len(s), encodeWordMax)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n-- // never split a character between two words
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	// Whitespace between adjacent encoded-words is not part of the text.
	return strings.Join(words, " ")
}

// Messages reads the outbox, oldest first. A missing folder is an empty
// outbox. Files that are not complete messages (still being written, or not
// written by an Outbox) are skipped.
func (o *Outbox) Messages() ([]Message, error) {
	entries, err := os.ReadDir(o.dir) // sorted by name, hence by time
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailer: read outbox: %w", err)
	}
	var out []Message
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), outboxExt) {
			continue
		}
		m, err := readMessage(filepath.Join(o.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("mailer: read outbox %s: %w", e.Name(), err)
		}
		out = append(out, m)
	}
	return out, nil
}

func readMessage(path string) (Message, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Message{}, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Message{}, errors.New("not a message file")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, errors.New("undecodable subject")
	}
	text, err := io.ReadAll(msg.Body)
	if err != nil {
		return Message{}, err
	}
	return Message{To: msg.Header.Get("To"), Subject: subject, Text: string(text)}, nil
}
