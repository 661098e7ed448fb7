package audit

import (
	"encoding/base64"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// entry is one audit_logs document.
type entry struct {
	ID        bson.ObjectID `bson:"_id"`
	UserID    string        `bson:"user_id"`
	Action    string        `bson:"action"`
	Resource  string        `bson:"resource"`
	Status    string        `bson:"status"`
	IPAddress string        `bson:"ip_address"`
	UserAgent string        `bson:"user_agent"`
	// Details is kept raw, of any BSON type, so that an entry whose details are not an object
	// (written by hand, or by an older version) still decodes; it is turned into JSON value by
	// value (jsonValue) rather than through the driver's default types, which would send nested
	// documents as key/value arrays and dates as {"$date": ...}.
	Details   bson.RawValue `bson:"details"`
	CreatedAt time.Time     `bson:"created_at"`
}

// logView is the API's "log" object. Both spellings of the creation time are sent: the frontend
// reads createdAt, other clients created_at.
type logView struct {
	ID             string         `json:"id"`
	Action         string         `json:"action"`
	Resource       string         `json:"resource"`
	Status         string         `json:"status"`
	IPAddress      string         `json:"ip_address"`
	UserAgent      string         `json:"user_agent"`
	Details        map[string]any `json:"details"`
	CreatedAt      string         `json:"created_at"`
	CreatedAtCamel string         `json:"createdAt"`
}

func (e entry) view() logView {
	created := formatTime(e.CreatedAt)
	return logView{
		ID: e.ID.Hex(), Action: e.Action, Resource: e.Resource, Status: e.Status,
		IPAddress: e.IPAddress, UserAgent: e.UserAgent, Details: detailsObject(e.Details),
		CreatedAt: created, CreatedAtCamel: created,
	}
}

func views(entries []entry) []logView {
	out := make([]logView, len(entries)) // never nil: an empty list is [], not null
	for i, e := range entries {
		out[i] = e.view()
	}
	return out
}

// formatTime is the contract's time format: RFC 3339, UTC, "Z".
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// detailsObject returns the details as a JSON-ready object; anything but a document (absent,
// or not an object) becomes {} so clients always get an object.
func detailsObject(v bson.RawValue) map[string]any {
	if v.Type == bson.TypeEmbeddedDocument {
		if m, ok := jsonValue(v).(map[string]any); ok {
			return m
		}
	}
	return map[string]any{}
}

// jsonValue converts one BSON value to what encoding/json should send: documents as objects,
// arrays as arrays, dates in the contract's time format, ids as hex, and values JSON cannot hold
// (NaN, infinities) as null, since one of them would make the whole response fail to encode.
func jsonValue(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		elems, err := v.Document().Elements()
		if err != nil {
			return nil
		}
		m := make(map[string]any, len(elems))
		for _, el := range elems {
			m[el.Key()] = jsonValue(el.Value())
		}
		return m
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil
		}
		a := make([]any, len(vals))
		for i, el := range vals {
			a[i] = jsonValue(el)
		}
		return a
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeInt32:
		return v.Int32()
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case bson.TypeDateTime:
		return formatTime(v.Time())
	case bson.TypeObjectID:
		return v.ObjectID().Hex()
	case bson.TypeBinary:
		_, data := v.Binary()
		return base64.StdEncoding.EncodeToString(data)
	case bson.TypeNull, bson.TypeUndefined:
		return nil
	}
	// Decimal128, timestamps, regexes and the like are not written by this service; their
	// driver string form is readable and safe.
	return v.String()
}
