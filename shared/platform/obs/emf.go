package obs

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric the service publishes; the template's
// alarms and dashboard refer to it.
const Namespace = "CryptoVault"

// Unit is a CloudWatch metric unit.
type Unit string

// The units the service uses.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	None         Unit = "None"
)

// Metric is one value to publish.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Metrics writes CloudWatch Embedded Metric Format lines: one JSON object per Emit, on its own
// line, which CloudWatch Logs extracts into metrics. Writing a log line costs no network call, so
// metrics can be published from a request path or a scheduled run at no latency.
type Metrics struct {
	mu         sync.Mutex
	w          io.Writer
	dimensions map[string]string
	now        func() time.Time
}

// NewMetrics writes to w (stdout in Lambda) with the given dimensions on every metric, e.g.
// {"Service": "health", "Environment": "dev"}. The alarms select metrics by these dimensions.
func NewMetrics(w io.Writer, dimensions map[string]string) *Metrics {
	return &Metrics{w: w, dimensions: dimensions, now: time.Now}
}

// Emit writes one EMF document holding all of metrics.
func (m *Metrics) Emit(metrics ...Metric) error {
	if len(metrics) == 0 {
		return nil
	}
	dimNames := make([]string, 0, len(m.dimensions))
	doc := make(map[string]any, len(metrics)+len(m.dimensions)+1)
	for k, v := range m.dimensions {
		dimNames = append(dimNames, k)
		doc[k] = v
	}
	slices.Sort(dimNames) // stable output: the same metric always has the same dimension set
	defs := make([]map[string]string, len(metrics))
	for i, mt := range metrics {
		if _, clash := doc[mt.Name]; clash || mt.Name == "_aws" {
			return fmt.Errorf("emf: metric name %q clashes with a dimension", mt.Name)
		}
		defs[i] = map[string]string{"Name": mt.Name, "Unit": string(mt.Unit)}
		doc[mt.Name] = mt.Value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": m.now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dimNames},
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("emf: encode: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("emf: write: %w", err)
	}
	return nil
}
