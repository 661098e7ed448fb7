// Package wsfake is a local, in-memory endpoint that speaks the API Gateway management API of a
// WebSocket API (POST, GET and DELETE /{stage}/@connections/{connectionId}) closely enough for a
// SigV4 client to talk to it: requests must be signed for execute-api with the fake's
// credentials (the signature is checked), and a connection that is not live answers
// 410 GoneException as API Gateway does.
//
// It exists so that tests exercise the real client code (signing, path escaping, error decoding,
// retries, network failures) instead of a mock that would only confirm our own assumptions. It is
// a test helper: Lambda code must never import it.
package wsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region, Stage and the credentials that Config hands out and the fake checks signatures with
// (also usable as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for a client built by awsconfig).
const (
	Region          = "us-east-1"
	Stage           = "dev"
	AccessKeyID     = "AKIDWSFAKE"
	SecretAccessKey = "wsfake-secret-key" // not a secret: the fake's own test credential
)

const (
	service = "execute-api"
	// maxBody is API Gateway's message limit (128 KB); a larger post is 413 PayloadTooLargeException.
	maxBody = 128 << 10
)

// Server is a fake management endpoint backed by an httptest.Server. All methods are safe for
// concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	conns    map[string]*connection // live connections
	record   bool
	latency  time.Duration
	failure  *failure
	posts    int // posts answered 200
	requests int // every request that reached the handler
	inFlight int
	maxIn    int // the most requests in flight at once
}

type connection struct {
	connectedAt time.Time
	messages    [][]byte
}

type failure struct {
	status  int
	errType string
	left    int // answers still to fail; < 0: until cleared
}

// Start starts a fake endpoint and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{conns: map[string]*connection{}, record: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+Stage+"/@connections/{id}", s.serve)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint is the management endpoint of the fake API, as the stream stores it for each
// connection (https://{api}.execute-api.{region}.amazonaws.com/{stage} in AWS).
func (s *Server) Endpoint() string { return s.srv.URL + "/" + Stage }

// Config is an AWS configuration for clients of the fake: its region and static credentials
// (requests are still SigV4-signed, and checked).
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
	}
}

// Connect makes connection ids live.
func (s *Server) Connect(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.conns[id] = &connection{connectedAt: time.Now()}
	}
}

// Disconnect makes a connection gone (410 from now on), as a client leaving does.
func (s *Server) Disconnect(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, id)
}

// Live reports whether a connection is live.
func (s *Server) Live(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.conns[id]
	return ok
}

// Messages returns a copy of the messages posted to a live connection, oldest first.
func (s *Server) Messages(id string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[id]
	if !ok {
		return nil
	}
	out := make([][]byte, len(c.messages))
	copy(out, c.messages)
	return out
}

// Posts reports how many posts were delivered (answered 200).
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// Requests reports how many requests reached the fake, retries and refusals included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// MaxInFlight reports the most requests the fake has handled at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// SetRecording turns keeping posted messages on (the default) or off (benchmarks: memory).
func (s *Server) SetRecording(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record = on
}

// SetLatency delays every answer by d, as the round trip to the real endpoint would.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFailure makes the next times requests answer status with errType (e.g. 429
// "LimitExceededException", 500 "InternalServerErrorException"); times < 0 fails them until
// SetFailure(0, "", 0) clears it.
func (s *Server) SetFailure(status int, errType string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		s.failure = nil
		return
	}
	s.failure = &failure{status: status, errType: errType, left: times}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	s.mu.Lock()
	s.requests++
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	latency, fail := s.latency, s.failure
	if fail != nil {
		if fail.left > 0 {
			fail.left--
			if fail.left == 0 {
				s.failure = nil
			}
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if problem := checkSignature(r, body); problem != "" {
		writeError(w, http.StatusForbidden, "ForbiddenException", problem)
		return
	}
	if fail != nil {
		writeError(w, fail.status, fail.errType, "wsfake injected failure")
		return
	}
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodPost:
		s.post(w, id, body)
	case http.MethodGet:
		s.get(w, id)
	case http.MethodDelete:
		s.delete(w, id)
	default:
		writeError(w, http.StatusNotFound, "NotFoundException", "no such operation")
	}
}

func (s *Server) post(w http.ResponseWriter, id string, body []byte) {
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "message too large")
		return
	}
	s.mu.Lock()
	c, ok := s.conns[id]
	if ok {
		s.posts++
		if s.record {
			c.messages = append(c.messages, body)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) get(w http.ResponseWriter, id string) {
	s.mu.Lock()
	c, ok := s.conns[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339),
		"lastActiveAt": c.connectedAt.UTC().Format(time.RFC3339),
		"identity":     map[string]string{"sourceIp": "127.0.0.1", "userAgent": "wsfake"},
	})
}

func (s *Server) delete(w http.ResponseWriter, id string) {
	s.mu.Lock()
	_, ok := s.conns[id]
	delete(s.conns, id)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkSignature verifies the request's SigV4 signature by signing the same request (its signed
// headers only) again with the fake's secret: a wrong path escaping, body hash, scope or key
// fails as it would in AWS. It returns the problem, or "".
func checkSignature(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	const algorithm = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algorithm) {
		return "request is not signed with SigV4"
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, algorithm), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != AccessKeyID || scope[2] != Region || scope[3] != service || scope[4] != "aws4_request" {
		return fmt.Sprintf("credential scope %q is not %s/<date>/%s/%s/aws4_request", fields["Credential"], AccessKeyID, Region, service)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "missing or malformed X-Amz-Date"
	}
	again, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return "unparsable request URI"
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), service, Region, at); err != nil {
		return "cannot verify signature"
	}
	if again.Header.Get("Authorization") != auth {
		return "The request signature we calculated does not match the signature you provided."
	}
	return ""
}

// writeError answers as API Gateway's management API does: the error type in X-Amzn-ErrorType
// and a JSON body with the message.
func writeError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
