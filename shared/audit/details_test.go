package audit_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestDetailsAsJSON: whatever BSON the details hold comes back as plain JSON — objects, arrays,
// dates in the API's format, ids as hex — and entries without an object get {} rather than null
// or a failed response. (NaN and infinities, which the local engine cannot store, are covered by
// TestJSONValueNonFinite.)
func TestDetailsAsJSON(t *testing.T) {
	h := newHarness(t)
	when := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	ref := bson.NewObjectID()
	tests := []struct {
		name    string
		details any // nil: the field is absent
		want    string
	}{
		{"scalars and nesting", bson.D{
			{Key: "s", Value: "x"}, {Key: "b", Value: true}, {Key: "i32", Value: int32(7)}, {Key: "i64", Value: int64(1) << 40},
			{Key: "f", Value: 1.5}, {Key: "null", Value: nil},
			{Key: "arr", Value: bson.A{1, bson.D{{Key: "a", Value: "b"}, {Key: "list", Value: bson.A{"c"}}}}},
			{Key: "doc", Value: bson.D{{Key: "deep", Value: bson.D{{Key: "k", Value: "v"}}}}},
		}, `{"arr":[1,{"a":"b","list":["c"]}],"b":true,"doc":{"deep":{"k":"v"}},"f":1.5,"i32":7,"i64":1099511627776,"null":null,"s":"x"}`},
		{"dates and ids", bson.D{{Key: "when", Value: when}, {Key: "ref", Value: ref}, {Key: "bin", Value: bson.Binary{Data: []byte("hi")}}},
			`{"bin":"aGk=","ref":"` + ref.Hex() + `","when":"2026-11-28T09:15:00Z"}`},
		{"empty", bson.D{}, `{}`},
		{"absent", nil, `{}`},
		{"not an object", "just text", `{}`},
		{"an array", bson.A{1, 2}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := bson.NewObjectID()
			doc := bson.D{
				{Key: "_id", Value: id}, {Key: "user_id", Value: "alice"}, {Key: "action", Value: "DEPOSIT"},
				{Key: "resource", Value: "USD"}, {Key: "status", Value: "success"}, {Key: "ip_address", Value: "192.0.2.1"},
				{Key: "user_agent", Value: "ua"}, {Key: "created_at", Value: when},
			}
			if tt.details != nil {
				doc = append(doc, bson.E{Key: "details", Value: tt.details})
			}
			if _, err := h.collection().InsertOne(context.Background(), doc); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Log struct {
					Details json.RawMessage `json:"details"`
				} `json:"log"`
			}
			decode(t, h.get("alice", "/api/audit-logs/"+id.Hex()), &got)
			var norm any // compare semantically: key order of a JSON object is not meaningful
			_ = json.Unmarshal(got.Log.Details, &norm)
			gotJSON, _ := json.Marshal(norm)
			if string(gotJSON) != tt.want {
				t.Errorf("details %s, want %s", got.Log.Details, tt.want)
			}
		})
	}
}
