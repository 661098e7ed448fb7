// Package sesfake is a local, in-memory endpoint that speaks enough of the
// Amazon SES v2 REST-JSON protocol for the real SDK client to send email
// through it.
//
// It exists so that tests exercise the real *sesv2.Client (request signing,
// serialisation, error decoding, retries, network failures) instead of a
// hand-written mock that would only confirm our own assumptions about the
// SDK. It is a test helper: Lambda code must never import it.
//
// Supported operation: SendEmail (POST /v2/email/outbound-emails) with Simple
// content. Sent messages are recorded and can be read back with
// [Server.Messages].
package sesfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/cryptovault/serverless/shared/testkit/awstest"
)

// Region is the region of the client built by [Server.Client]. The fake
// answers requests signed for any region, as a local endpoint configured
// through AWS_ENDPOINT_URL_SESV2 would receive them.
const Region = awstest.Region

const (
	sendEmailPath = "/v2/email/outbound-emails"
	// signingScope is the tail of a SigV4 credential scope for SES: SES v2
	// signs with the service name "ses", not "sesv2".
	signingScope = "/ses/aws4_request"
	// maxBody bounds request bodies; SES's own limit is 40 MB, our mails are
	// a few kilobytes.
	maxBody = 1 << 20
	// maxRecipients is SES's limit on To+Cc+Bcc per message.
	maxRecipients = 50
)

// Message is one email accepted by the fake, as it arrived on the wire.
type Message struct {
	ID             string // the MessageId the fake answered
	From           string
	To, Cc, Bcc    []string
	Subject        string
	SubjectCharset string
	Text, HTML     string // the Simple body parts ("" when absent)
	TextCharset    string
	HTMLCharset    string
}

// Server is a fake SES v2 endpoint backed by an httptest.Server. All methods
// are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	messages []Message
	down     bool
	failure  *failure
	attempts int
}

type failure struct {
	status  int
	errType string
}

// Start starts a fake endpoint and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint's base URL, suitable for the SDK's BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns a real SDK client pointed at the fake: static fake
// credentials (requests are still SigV4-signed), region us-east-1, and at most
// two attempts with tiny backoff so that failure tests stay fast.
func (s *Server) Client(t testing.TB) *sesv2.Client {
	t.Helper()
	return sesv2.NewFromConfig(awstest.Config(s.URL(), "AKIDSESFAKE", "sesfake-secret-key"))
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// Attempts reports how many SendEmail requests reached the endpoint, including
// those dropped while down and those answered with an injected failure. Each
// SDK retry counts as one more attempt.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// SetDown makes the endpoint unreachable (true) or reachable again (false).
// While down, every request's connection is closed without a response, which
// the SDK reports as a network error, as it would for a dead endpoint.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetFailure makes every SendEmail answer with the given HTTP status and error
// type, for example 400 "MessageRejected", 429 "TooManyRequestsException" or
// 500 "InternalFailure". An empty errType restores normal answers.
func (s *Server) SetFailure(status int, errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errType == "" {
		s.failure = nil
		return
	}
	s.failure = &failure{status: status, errType: errType}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != sendEmailPath || r.Method != http.MethodPost {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "sesfake supports POST "+sendEmailPath+" (SendEmail) only")
		return
	}

	s.mu.Lock()
	s.attempts++
	down, fail := s.down, s.failure
	s.mu.Unlock()

	if down {
		dropConnection(w)
		return
	}
	if auth := r.Header.Get("Authorization"); auth == "" {
		writeError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	} else if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, signingScope) {
		writeError(w, http.StatusForbidden, "InvalidSignatureException", "request is not SigV4-signed for ses")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "SerializationException", "unexpected content type "+ct)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxBody {
		writeError(w, http.StatusBadRequest, "BadRequestException", "request too large")
		return
	}
	if fail != nil {
		writeError(w, fail.status, fail.errType, "sesfake injected failure")
		return
	}
	s.sendEmail(w, body)
}

// The wire shape of SendEmailInput (see the SDK's request snapshot for
// SendEmail): member names as JSON keys, strings as JSON strings.
type sendEmailInput struct {
	FromEmailAddress string
	Destination      *struct {
		ToAddresses, CcAddresses, BccAddresses []string
	}
	Content *struct {
		Simple *struct {
			Subject *content
			Body    *struct{ Text, Html *content }
		}
		Raw      json.RawMessage
		Template json.RawMessage
	}
}

type content struct {
	Data    string
	Charset string
}

func (s *Server) sendEmail(w http.ResponseWriter, body []byte) {
	var in sendEmailInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed request body")
		return
	}
	msg, problem := toMessage(in)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "BadRequestException", problem)
		return
	}

	s.mu.Lock()
	msg.ID = fmt.Sprintf("010001sesfake-%06d-000000", len(s.messages)+1)
	s.messages = append(s.messages, msg)
	s.mu.Unlock()

	writeJSON(w, map[string]string{"MessageId": msg.ID})
}

// toMessage checks a request the way SES does for the fields we use and
// returns the message, or the reason SES would refuse it.
func toMessage(in sendEmailInput) (Message, string) {
	switch {
	case in.FromEmailAddress == "":
		return Message{}, "Missing required field FromEmailAddress"
	case in.Destination == nil:
		return Message{}, "Missing required field Destination"
	case in.Content == nil:
		return Message{}, "Missing required field Content"
	case in.Content.Simple == nil && (in.Content.Raw != nil || in.Content.Template != nil):
		return Message{}, "sesfake supports Simple content only"
	case in.Content.Simple == nil:
		return Message{}, "Missing required field Content.Simple"
	case in.Content.Simple.Subject == nil:
		return Message{}, "Missing required field Subject"
	case in.Content.Simple.Body == nil || (in.Content.Simple.Body.Text == nil && in.Content.Simple.Body.Html == nil):
		return Message{}, "Missing required field Body"
	}
	d := in.Destination
	recipients := slices.Concat(d.ToAddresses, d.CcAddresses, d.BccAddresses)
	if len(recipients) == 0 {
		return Message{}, "Missing recipients"
	}
	if len(recipients) > maxRecipients {
		return Message{}, "Recipient count exceeds 50"
	}
	for _, a := range append(recipients, in.FromEmailAddress) {
		// SES refuses addresses that would break the header they go into.
		if a == "" || strings.ContainsAny(a, "\r\n") {
			return Message{}, "Illegal address"
		}
	}
	if strings.ContainsAny(in.Content.Simple.Subject.Data, "\r\n") {
		return Message{}, "Illegal subject"
	}

	simple := in.Content.Simple
	m := Message{
		From:           in.FromEmailAddress,
		To:             d.ToAddresses,
		Cc:             d.CcAddresses,
		Bcc:            d.BccAddresses,
		Subject:        simple.Subject.Data,
		SubjectCharset: simple.Subject.Charset,
	}
	if t := simple.Body.Text; t != nil {
		m.Text, m.TextCharset = t.Data, t.Charset
	}
	if h := simple.Body.Html; h != nil {
		m.HTML, m.HTMLCharset = h.Data, h.Charset
	}
	return m, ""
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", "sesfake: encode response")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "sesfake")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// writeError encodes an error the way SES v2 does: the type in the
// X-Amzn-ErrorType header and the message in the body, so the SDK decodes
// modelled errors (MessageRejected, TooManyRequestsException, ...) into
// their types.
func writeError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "sesfake")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// dropConnection closes the connection without writing a response, which is
// what a client sees when the endpoint dies mid-request.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // still aborts the response without writing it
	}
	conn.Close()
}
