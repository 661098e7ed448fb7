package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// The docs page is written as three files (readable, editable with the right syntax highlighting)
// and served as one self-contained page: the style and the script are inlined, so the page needs
// nothing but the JSON document from its own origin.
var (
	//go:embed docs/docs.html
	docsHTML []byte
	//go:embed docs/docs.css
	docsCSS []byte
	//go:embed docs/docs.js
	docsJS []byte
)

// Placeholders of docs.html replaced by the inlined style and script.
const (
	stylePlaceholder  = "/*{{STYLE}}*/"
	scriptPlaceholder = "/*{{SCRIPT}}*/"
)

type page struct {
	html []byte
	csp  string
}

var docsPage = sync.OnceValue(func() page {
	html := bytes.Replace(docsHTML, []byte(stylePlaceholder), docsCSS, 1)
	html = bytes.Replace(html, []byte(scriptPlaceholder), docsJS, 1)
	// The content security policy allows exactly the inlined style and script (by hash), fetches
	// from the page's own origin, and data: images: a page that tried to load anything from
	// another host would be blocked by the browser, not only caught by the tests.
	csp := "default-src 'none'; script-src " + hashSource(docsJS) + "; style-src " + hashSource(docsCSS) +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page{html: html, csp: csp}
})

func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// DocsHTML is the docs page as served.
func DocsHTML() []byte { return docsPage().html }

// DocsCSP is the Content-Security-Policy the docs page is served with.
func DocsCSP() string { return docsPage().csp }

// JSONHandler serves the document as JSON (GET and HEAD).
func JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setHeaders(h)
		b, err := JSON()
		if err != nil {
			// Only a broken embedded copy gets here (TestJSON catches it); the local server's user
			// is its author, so the message says what is wrong.
			msg := "OpenAPI document unavailable: " + err.Error()
			body, _ := json.Marshal(map[string]string{"error": msg, "detail": msg, "code": "INTERNAL_ERROR", "request_id": ""})
			h.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(body)
			return
		}
		// The frontend's dev server (another origin) may read the document: it is public.
		h.Set("Access-Control-Allow-Origin", "*")
		serve(w, r, "application/json; charset=utf-8", b)
	})
}

// DocsHandler serves the docs page (GET and HEAD).
func DocsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := docsPage()
		h := w.Header()
		setHeaders(h)
		h.Set("Content-Security-Policy", p.csp)
		serve(w, r, "text/html; charset=utf-8", p.html)
	})
}

// setHeaders sets the security headers every API response carries.
func setHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func serve(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
