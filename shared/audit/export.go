package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// MaxExportBytes bounds an export's body as Lambda carries it. Lambda refuses a synchronous
// result over 6 MB — the body JSON-escaped inside the API Gateway proxy response, plus headers —
// and API Gateway then answers a bare 502 without CORS headers. 10,000 entries with long
// User-Agents and details can pass that, so an export also stops before its escaped body passes
// 5 MiB: it keeps the newest entries, and count says how many were sent.
const MaxExportBytes = 5 << 20

// csvHeader is the header row of a CSV export: the fields of the API's log object, in its order.
var csvHeader = []string{"id", "action", "resource", "status", "ip_address", "user_agent", "details", "created_at", "createdAt"}

type exportResponse struct {
	Logs  []json.RawMessage `json:"logs"`
	Count int               `json:"count"`
}

// export is GET /api/audit-logs/export?days=&format=json|csv: the user's entries of the last
// days, newest first, at most the export limits.
func (s *Service) export(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	q := web.NewQuery(r)
	days := q.Int("days", defaultExportDays, 1, maxDays)
	format := q.String("format", "json", "json", "csv")
	if err := q.Err(); err != nil {
		return err
	}
	entries, err := s.store.since(r.Context(), userID, s.windowStart(days), s.exportLimit)
	if err != nil {
		return err
	}
	logs := views(entries)
	if format == "json" {
		resp, err := jsonExport(logs, s.exportBytes)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, resp)
		return nil
	}
	// Built in memory before anything is sent, so a failure is still a clean envelope rather
	// than half a file under a 200.
	body, err := csvExport(logs, s.exportBytes)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="audit-logs.csv"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a write error means the client is gone
	return nil
}

// jsonExport encodes logs one by one, stopping before the body's escaped size would pass budget.
func jsonExport(logs []logView, budget int) (exportResponse, error) {
	resp := exportResponse{Logs: make([]json.RawMessage, 0, len(logs))}
	size := len(`{"logs":[],"count":10000}` + "\n")
	for _, l := range logs {
		b, err := json.Marshal(l)
		if err != nil {
			return exportResponse{}, err
		}
		size += escapedLen(b) + 1 // the comma
		if size > budget {
			break
		}
		resp.Logs = append(resp.Logs, b)
	}
	resp.Count = len(resp.Logs)
	return resp, nil
}

// csvExport writes the header row and one row per log, quoted by encoding/csv and with every cell
// defused against formula injection, stopping before the escaped size would pass budget. Lines
// end in "\n", not RFC 4180's CRLF: with UseCRLF encoding/csv drops a lone "\r" inside a field,
// and an export must not alter what it exports (spreadsheets and CSV readers accept both).
func csvExport(logs []logView, budget int) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	size := 0 // escaped size of buf, kept incrementally: rescanning would be quadratic
	write := func(row []string) (fits bool, err error) {
		start := buf.Len()
		if err := cw.Write(row); err != nil {
			return false, err
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return false, err
		}
		rowSize := escapedLen(buf.Bytes()[start:])
		if size+rowSize > budget {
			buf.Truncate(start)
			return false, nil
		}
		size += rowSize
		return true, nil
	}
	if _, err := write(csvHeader); err != nil {
		return nil, err
	}
	for _, l := range logs {
		details, err := json.Marshal(l.Details)
		if err != nil {
			return nil, err
		}
		row := []string{l.ID, l.Action, l.Resource, l.Status, l.IPAddress, l.UserAgent, string(details), l.CreatedAt, l.CreatedAtCamel}
		for i := range row {
			row[i] = defuseFormula(row[i])
		}
		fits, err := write(row)
		if err != nil {
			return nil, err
		}
		if !fits {
			break
		}
	}
	return buf.Bytes(), nil
}

// defuseFormula prefixes a cell that a spreadsheet would evaluate as a formula (a leading "=",
// "+", "-", "@", tab or carriage return; OWASP's list) with "'", which spreadsheets show as
// text. Resource and User-Agent come from clients, so an export opened in Excel must not run them.
func defuseFormula(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// escapedLen is the size of b once encoding/json has escaped it as a string, as the Lambda
// runtime does with the proxy response's body: quotes and backslashes double, HTML-sensitive
// characters, most control characters, U+2028/U+2029 and invalid bytes become six-byte \u
// escapes. It errs on the large side, which only makes an export stop a little earlier.
func escapedLen(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
