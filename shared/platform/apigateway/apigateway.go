// Package apigateway translates between net/http and API Gateway REST (payload v1) proxy events,
// the way the stage does: the local server uses it to invoke functions in-process, and the API
// tests use it to drive handlers through the real Lambda adapter.
package apigateway

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Stage describes the deployment the event claims to come from.
type Stage struct {
	// Name is the stage ("dev", "prod", "local").
	Name string
	// PathPrefix is what the browser sees before the API's paths: "/dev" on an execute-api URL,
	// "" on a custom domain or the local server. requestContext.path carries it, and the
	// functions derive cookie paths from it.
	PathPrefix string
}

var pathParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\+?\}`)

// Event builds the event API Gateway sends for r, matched to the template resource (e.g.
// "/api/crypto/{symbol}"). r must have been routed by a ServeMux pattern with the same
// wildcards, so r.PathValue yields the path parameters.
func Event(r *http.Request, resource string, body []byte, st Stage, requestID string) events.APIGatewayProxyRequest {
	now := time.Now().UTC()
	ev := events.APIGatewayProxyRequest{
		Resource:   resource,
		Path:       r.URL.Path,
		HTTPMethod: r.Method,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        "000000000000",
			ResourceID:       "local",
			Stage:            st.Name,
			RequestID:        requestID,
			ResourcePath:     resource,
			HTTPMethod:       r.Method,
			APIID:            "local",
			Path:             st.PathPrefix + r.URL.Path,
			DomainName:       r.Host,
			RequestTime:      now.Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(r.Header) > 0 {
		ev.Headers = make(map[string]string, len(r.Header))
		ev.MultiValueHeaders = make(map[string][]string, len(r.Header))
		for k, vs := range r.Header {
			ev.Headers[k] = vs[len(vs)-1] // the single-value map keeps the last value
			ev.MultiValueHeaders[k] = slices.Clone(vs)
		}
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		ev.MultiValueQueryStringParameters = make(map[string][]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
			ev.MultiValueQueryStringParameters[k] = slices.Clone(vs)
		}
	}
	for _, m := range pathParam.FindAllStringSubmatch(resource, -1) {
		if ev.PathParameters == nil {
			ev.PathParameters = map[string]string{}
		}
		ev.PathParameters[m[1]] = r.PathValue(m[1])
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

func sourceIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// WriteResponse writes a proxy response to w as API Gateway would send it to the client.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			// API Gateway answers a malformed integration response with a bare 502.
			http.Error(w, `{"message": "Internal server error"}`, http.StatusBadGateway)
			return fmt.Errorf("apigateway: response body flagged base64 is not: %w", err)
		}
		body = decoded
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if len(body) == 0 {
		return nil // a 204 or 304 must not have a body, not even an empty write
	}
	_, err := w.Write(body)
	return err
}
