// Package smfake is a local, in-memory endpoint that speaks enough of the AWS
// Secrets Manager JSON 1.1 protocol for the real SDK client to talk to it.
//
// It exists so that tests exercise the real *secretsmanager.Client (request
// signing, serialisation, error decoding, retries, network failures) instead
// of a hand-written mock that would only confirm our own assumptions about the
// SDK. It is a test helper: Lambda code must never import it.
//
// Supported operations: GetSecretValue and PutSecretValue. Rotation is
// modelled the way Secrets Manager does it: a new version takes the AWSCURRENT
// staging label, and the version that held AWSCURRENT moves to AWSPREVIOUS.
package smfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cryptovault/serverless/shared/testkit/awstest"
)

// Staging labels that Secrets Manager manages during rotation.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

// Region and Account are the values baked into the ARNs the fake returns and
// into the client built by [Server.Client].
const (
	Region  = awstest.Region
	Account = "123456789012"
)

const (
	targetPrefix    = "secretsmanager."
	jsonContentType = "application/x-amz-json-1.1"
	// maxBody bounds request bodies; real requests are a few hundred bytes.
	maxBody = 1 << 20
)

// Server is a fake Secrets Manager endpoint backed by an httptest.Server.
// All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]*secret // by name
	down     bool
	failure  *failure
	held     chan struct{} // non-nil while GetSecretValue responses are held
	calls    int
	attempts int
	nextVer  int
}

type secret struct {
	name     string
	arn      string
	versions []*version // oldest first
}

type version struct {
	id      string
	value   string
	stages  []string
	created time.Time
}

type failure struct {
	errType string
	status  int
}

// Start starts a fake endpoint and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{secrets: make(map[string]*secret)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(func() {
		// Release held requests first: Close waits for in-flight handlers.
		s.Release()
		s.srv.Close()
	})
	return s
}

// URL is the endpoint's base URL, suitable for the SDK's BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns a real SDK client pointed at the fake: static fake
// credentials (requests are still SigV4-signed), region us-east-1, and at most
// two attempts with tiny backoff so that "endpoint down" tests stay fast.
func (s *Server) Client(t testing.TB) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(awstest.Config(s.URL(), "AKIDSMFAKE", "smfake-secret-key"))
}

// Put stores value as a new version of secretID, creating the secret if
// needed, exactly like PutSecretValue: the new version becomes AWSCURRENT and
// the former AWSCURRENT version becomes AWSPREVIOUS. It returns the new
// version id.
func (s *Server) Put(secretID, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookupLocked(secretID)
	if sec == nil {
		sec = &secret{name: secretID, arn: arnFor(secretID)}
		s.secrets[secretID] = sec
	}
	return s.putLocked(sec, value).id
}

// SetDown makes the endpoint unreachable (true) or reachable again (false).
// While down, every request's connection is closed without a response, which
// the SDK reports as a network error, as it would for a dead endpoint.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetFailure makes every GetSecretValue answer with the given error type and
// HTTP status (for example "AccessDeniedException", 400 or
// "InternalServiceError", 500). An empty errType restores normal answers.
func (s *Server) SetFailure(errType string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errType == "" {
		s.failure = nil
		return
	}
	s.failure = &failure{errType: errType, status: status}
}

// Hold makes GetSecretValue requests wait (after being counted by
// [Server.Attempts]) until [Server.Release] is called or the client gives up.
// It lets tests pile up concurrent callers or outlast a caller's deadline.
func (s *Server) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = make(chan struct{})
	}
}

// Release lets held requests proceed. It is a no-op when nothing is held.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		close(s.held)
		s.held = nil
	}
}

// Calls reports how many GetSecretValue requests were answered (successfully
// or with an API error). Requests dropped while down are not counted.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Attempts reports how many GetSecretValue requests reached the endpoint,
// including those dropped while down and those still held. SDK retries count
// separately.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "unsupported request")
		return
	}

	s.mu.Lock()
	if op == "GetSecretValue" {
		s.attempts++
	}
	down, held := s.down, s.held
	s.mu.Unlock()

	if down {
		dropConnection(w)
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, jsonContentType) {
		writeError(w, http.StatusBadRequest, "SerializationException", "unexpected content type "+ct)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return // the client went away
	}

	switch op {
	case "GetSecretValue":
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		s.getSecretValue(w, body)
	case "PutSecretValue":
		s.putSecretValue(w, body)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not supported by smfake")
	}
}

type getInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type getOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  string
	VersionStages []string
	CreatedDate   float64 // epoch seconds, as the JSON protocol encodes timestamps
}

func (s *Server) getSecretValue(w http.ResponseWriter, body []byte) {
	var in getInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed request body")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failure != nil {
		writeError(w, s.failure.status, s.failure.errType, "smfake injected failure")
		return
	}
	if in.SecretId == "" {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	sec := s.lookupLocked(in.SecretId)
	if sec == nil {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = StageCurrent
	}
	var found *version
	for _, v := range sec.versions {
		if (in.VersionId == "" || v.id == in.VersionId) && (stage == "" || hasStage(v, stage)) {
			found = v
			break
		}
	}
	if found == nil {
		msg := "Secrets Manager can't find the specified secret value for staging label: " + stage
		if in.VersionId != "" {
			msg = "Secrets Manager can't find the specified secret value for VersionId: " + in.VersionId
		}
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", msg)
		return
	}
	writeJSON(w, getOutput{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionId:     found.id,
		SecretString:  found.value,
		VersionStages: append([]string(nil), found.stages...),
		CreatedDate:   float64(found.created.UnixMilli()) / 1000,
	})
}

type putInput struct {
	SecretId     string
	SecretString *string
}

type putOutput struct {
	ARN           string
	Name          string
	VersionId     string
	VersionStages []string
}

func (s *Server) putSecretValue(w http.ResponseWriter, body []byte) {
	var in putInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed request body")
		return
	}
	if in.SecretString == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", "smfake supports SecretString only")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookupLocked(in.SecretId)
	if sec == nil {
		// As the real service: PutSecretValue never creates a secret.
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	v := s.putLocked(sec, *in.SecretString)
	writeJSON(w, putOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: append([]string(nil), v.stages...)})
}

// lookupLocked finds a secret by name or ARN, as SecretId accepts both.
func (s *Server) lookupLocked(id string) *secret {
	if sec, ok := s.secrets[id]; ok {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

// putLocked adds a version and moves the staging labels the way rotation does.
func (s *Server) putLocked(sec *secret, value string) *version {
	for _, v := range sec.versions {
		v.stages = without(v.stages, StagePrevious)
	}
	for _, v := range sec.versions {
		if hasStage(v, StageCurrent) {
			v.stages = append(without(v.stages, StageCurrent), StagePrevious)
		}
	}
	s.nextVer++
	v := &version{
		id:      fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextVer),
		value:   value,
		stages:  []string{StageCurrent},
		created: time.Now().UTC(),
	}
	sec.versions = append(sec.versions, v)
	return v
}

func hasStage(v *version, stage string) bool {
	for _, st := range v.stages {
		if st == stage {
			return true
		}
	}
	return false
}

func without(stages []string, stage string) []string {
	out := stages[:0]
	for _, st := range stages {
		if st != stage {
			out = append(out, st)
		}
	}
	return out
}

// arnFor builds a realistic ARN; the real service appends a random 6-character
// suffix, here it is derived from the name so that it is stable.
func arnFor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	sum := h.Sum32()
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = alphabet[sum%uint32(len(alphabet))]
		sum /= uint32(len(alphabet))
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", Region, Account, name, suffix)
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServiceError", "smfake: encode response")
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-RequestId", "smfake")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// writeError encodes an error the way the JSON 1.1 protocol does, so the SDK
// decodes modelled errors (ResourceNotFoundException, ...) into their types.
func writeError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-RequestId", "smfake")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": errType, "message": msg})
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
