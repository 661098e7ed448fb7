package stream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cryptovault/serverless/shared/platform/awsconfig"
)

// awsClient makes SigV4-signed calls to the two AWS REST APIs the stream uses, API Gateway's
// management API (PostToConnection) and Lambda's Invoke, with the limits of awsconfig: at most
// MaxAttempts attempts, each bounded by AttemptTimeout. It exists because the SDK's
// apigatewaymanagementapi module is not available from this project's module proxy (and the
// Lambda module would be a 2 MB dependency for one call); the credentials, region and signer are
// the SDK's own.
type awsClient struct {
	load   func(ctx context.Context) (aws.Config, error)
	http   *http.Client
	signer *v4.Signer

	mu  sync.Mutex
	cfg *aws.Config // nil until load succeeds; a failed load is retried on the next call
}

// maxErrorBody bounds how much of an error response is read (they are a few hundred bytes).
const maxErrorBody = 16 << 10

// newAWSClient returns a client whose configuration load calls on first use, so building it does
// no I/O and needs no region (the local server and the catalog test build the AWS hook too).
// maxConns bounds the connections per host, and so the posts in flight to one API.
func newAWSClient(load func(ctx context.Context) (aws.Config, error), maxConns int) *awsClient {
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: awsconfig.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   awsconfig.ConnectTimeout,
		ResponseHeaderTimeout: awsconfig.AttemptTimeout,
		// Keep one idle connection per worker: a broadcast reuses them instead of paying a TLS
		// handshake per post.
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &awsClient{
		load:   load,
		http:   &http.Client{Transport: transport, Timeout: awsconfig.AttemptTimeout},
		signer: v4.NewSigner(),
	}
}

func (c *awsClient) config(ctx context.Context) (aws.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil {
		return *c.cfg, nil
	}
	cfg, err := c.load(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Credentials == nil || cfg.Region == "" {
		return aws.Config{}, errors.New("stream: AWS configuration has no credentials or region")
	}
	c.cfg = &cfg
	return cfg, nil
}

// APIError is an AWS error response: the HTTP status and the error type of the
// X-Amzn-ErrorType header or the body's __type. Its message is AWS's, which names no secret.
type APIError struct {
	Status  int
	Type    string
	Message string
}

// Error says the type, status and message.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Type, e.Status, e.Message)
}

// retryable reports whether another attempt may succeed: throttling and server errors. A 410 and
// the other 4xx are answers.
func (e *APIError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// call sends one signed request and returns the response body of a 2xx answer, an *APIError for
// any other, or a transport error. Transport errors, 429 and 5xx are tried again once.
func (c *awsClient) call(ctx context.Context, service, method, url string, body []byte, header http.Header) ([]byte, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	var lastErr error
	for attempt := 1; attempt <= awsconfig.MaxAttempts; attempt++ {
		if attempt > 1 {
			// Full jitter up to a tenth of the SDK's cap: a broadcast cannot wait long per post.
			pause := rand.N(awsconfig.MaxBackoff/10) + time.Millisecond
			select {
			case <-ctx.Done():
				return nil, errors.Join(lastErr, ctx.Err())
			case <-time.After(pause):
			}
		}
		out, err := c.attempt(ctx, cfg, service, method, url, body, payloadHash, header)
		if err == nil {
			return out, nil
		}
		lastErr = err
		var apiErr *APIError
		if ctx.Err() != nil || (errors.As(err, &apiErr) && !apiErr.retryable()) {
			break
		}
	}
	return nil, lastErr
}

func (c *awsClient) attempt(ctx context.Context, cfg aws.Config, service, method, url string, body []byte, payloadHash string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("stream: build %s request: %w", service, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream: AWS credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, service, cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("stream: sign %s request: %w", service, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // *url.Error: names the URL, never the credentials (they are in a header)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, fmt.Errorf("stream: read %s response: %w", service, err)
	}
	if resp.StatusCode/100 == 2 {
		return raw, nil
	}
	return nil, decodeAPIError(resp, raw)
}

// decodeAPIError reads the error type the way the REST-JSON protocols send it: the
// X-Amzn-ErrorType header ("GoneException:http://..."), else the body's __type or code.
func decodeAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var doc struct {
		Type         string `json:"__type"`
		Code         string `json:"code"`
		Message      string `json:"message"`
		MessageUpper string `json:"Message"`
	}
	_ = json.Unmarshal(body, &doc)
	e.Type, _, _ = strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	for _, t := range []string{doc.Type, doc.Code} {
		if e.Type == "" && t != "" {
			e.Type = t[strings.LastIndex(t, "#")+1:]
		}
	}
	if e.Type == "" {
		e.Type = http.StatusText(resp.StatusCode)
	}
	e.Message = doc.Message
	if e.Message == "" {
		e.Message = doc.MessageUpper
	}
	return e
}
