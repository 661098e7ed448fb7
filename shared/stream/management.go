package stream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// managementService is the SigV4 signing name of the API Gateway management API.
const managementService = "execute-api"

// ManagementAPI is the Endpoints of AWS: a Poster per management endpoint
// (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) that calls PostToConnection. All
// endpoints share one bounded HTTP client. It is safe for concurrent use.
type ManagementAPI struct {
	client *awsClient

	mu      sync.Mutex
	posters map[string]*managementPoster
}

// NewManagementAPI returns the management API client. load gives the AWS configuration
// (awsconfig.Load in Lambda); it is called on first use, so building the client does no I/O.
// maxConns bounds the connections to one endpoint (Broadcaster's concurrency).
func NewManagementAPI(load func(ctx context.Context) (aws.Config, error), maxConns int) *ManagementAPI {
	if maxConns <= 0 {
		maxConns = DefaultConcurrency
	}
	return &ManagementAPI{client: newAWSClient(load, maxConns), posters: map[string]*managementPoster{}}
}

// Poster returns the Poster of endpoint: an absolute http(s) URL without query or fragment.
// (http is for local test endpoints; API Gateway's are https.)
func (m *ManagementAPI) Poster(endpoint string) (Poster, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.posters[endpoint]; ok {
		return p, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q is not a management endpoint URL", ErrUnknownEndpoint, endpoint)
	}
	p := &managementPoster{client: m.client, base: strings.TrimSuffix(u.String(), "/")}
	m.posters[endpoint] = p
	return p, nil
}

type managementPoster struct {
	client *awsClient
	base   string
}

// PostToConnection is POST {endpoint}/@connections/{connectionId} with data as the body.
func (p *managementPoster) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	if len(data) > MaxPostBytes {
		return fmt.Errorf("stream: message of %d bytes exceeds %d", len(data), MaxPostBytes)
	}
	if !validConnectionID(connectionID) {
		return fmt.Errorf("%w: malformed connection id", ErrGone)
	}
	// API Gateway's ids are base64 ("L0SM9cOFvHcCIhw="), so '/' and '+' may occur: escape the
	// segment; the signer escapes the path once more, as SigV4 wants for every service but S3.
	_, err := p.client.call(ctx, managementService, http.MethodPost,
		p.base+"/@connections/"+url.PathEscape(connectionID), data, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusGone {
		return fmt.Errorf("%w: %w", ErrGone, err)
	}
	return err
}
