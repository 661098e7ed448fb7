package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// MaxPostBytes is API Gateway's limit on one WebSocket message (128 KB). A price update of every
// coin is about 1.2 KB.
const MaxPostBytes = 128 << 10

// Errors callers branch on (errors.Is).
var (
	// ErrGone: the connection does not exist (API Gateway's 410 GoneException): the client has
	// left, or the connection is not established yet (a post from inside $connect).
	ErrGone = errors.New("stream: connection gone")
	// ErrUnknownEndpoint: no Poster serves a connection's endpoint (a local endpoint of another
	// process, or a malformed one).
	ErrUnknownEndpoint = errors.New("stream: unknown endpoint")
)

// Poster sends messages to the connections of one WebSocket API: the API Gateway management API
// in AWS (ManagementAPI), the local server's sockets locally.
type Poster interface {
	// PostToConnection sends data as one text message. ErrGone when the connection does not exist.
	PostToConnection(ctx context.Context, connectionID string, data []byte) error
}

// Endpoints gives the Poster of a management endpoint, the "https://{domainName}/{stage}" stored
// with each connection.
type Endpoints interface {
	Poster(endpoint string) (Poster, error)
}

// local holds the endpoints this process serves itself (the local server's sockets). It is a
// process-wide table because the local server builds the prices function from the catalog, with
// the same hook as in AWS, and that hook must reach sockets that cmd/local owns.
var local = struct {
	sync.RWMutex
	posters map[string]Poster
}{posters: map[string]Poster{}}

// RegisterLocalEndpoint makes p the Poster of endpoint for LocalEndpoints in this process, until
// the returned function is called. Registering an endpoint twice is an error: two local servers
// on one address cannot both own its connections.
func RegisterLocalEndpoint(endpoint string, p Poster) (unregister func(), err error) {
	local.Lock()
	defer local.Unlock()
	if _, taken := local.posters[endpoint]; taken {
		return nil, fmt.Errorf("stream: local endpoint %s is already registered", endpoint)
	}
	local.posters[endpoint] = p
	return func() {
		local.Lock()
		defer local.Unlock()
		if local.posters[endpoint] == p {
			delete(local.posters, endpoint)
		}
	}, nil
}

// LocalEndpoints resolves the endpoints registered with RegisterLocalEndpoint: the Endpoints of
// the local server, where nothing may go to AWS. Any other endpoint is ErrUnknownEndpoint.
type LocalEndpoints struct{}

// Poster returns the registered Poster of endpoint.
func (LocalEndpoints) Poster(endpoint string) (Poster, error) {
	local.RLock()
	defer local.RUnlock()
	if p, ok := local.posters[endpoint]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %s is not served by this process", ErrUnknownEndpoint, endpoint)
}
