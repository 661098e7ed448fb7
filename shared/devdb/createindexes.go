package devdb

import (
	"bufio"
	"encoding/binary"
	"net"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FerretDB v1.24's createIndexes leaves out the requested indexes that already exist by deleting
// them from its list at their position in the request, not in the list it is shrinking. When two
// or more of them exist, the second deletion is out of range (the engine panics and closes the
// connection: the driver clears its pool, and its next operation waits about 500 ms for a new
// server check) or removes a new index instead (which is then silently not created). The
// application asks for every index of a collection in one command at each cold start
// (mongodb.EnsureIndexes), so the proxy sends such a command to the engine one index at a time
// and answers with one combined reply.

// splitCreateIndexes returns one request per index when req is a createIndexes naming more than
// one index; ok is false for anything else, which is forwarded as it is.
func splitCreateIndexes(req request) (parts []request, ok bool) {
	if req.opCode != opMsg || req.command != "createindexes" || req.sections != 1 {
		return nil, false
	}
	raw := bson.Raw(req.msg[req.body:])
	if len(raw) < 4 {
		return nil, false
	}
	raw = raw[:binary.LittleEndian.Uint32(raw)]
	indexes, ok := raw.Lookup("indexes").ArrayOK()
	if !ok {
		return nil, false
	}
	values, err := indexes.Values()
	if err != nil || len(values) < 2 {
		return nil, false
	}
	var cmd bson.D
	if err := bson.Unmarshal(raw, &cmd); err != nil {
		return nil, false
	}
	at := -1
	for i, e := range cmd {
		if e.Key == "indexes" {
			at = i
		}
	}
	for _, v := range values {
		cmd[at].Value = bson.A{v}
		doc, err := bson.Marshal(cmd)
		if err != nil {
			return nil, false
		}
		// The same header (requestID) and flag bits, then the single body section.
		msg := make([]byte, 0, headerLen+4+1+len(doc))
		msg = append(msg, req.msg[:headerLen+4]...)
		msg = append(append(msg, 0), doc...)
		binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
		part := req
		part.msg, part.body, part.sections = msg, headerLen+5, 1
		parts = append(parts, part)
	}
	return parts, true
}

// createIndexes forwards parts one at a time and combines their replies into the reply
// MongoDB gives to the whole command. The first reply that is not ok is the answer (the indexes
// before it stay created, as they would with the engine's own partial failures).
func (s *Server) createIndexes(req request, parts []request, up net.Conn, ur *bufio.Reader) ([]byte, error) {
	var (
		before, after int32
		created       bool
	)
	for i, part := range parts {
		r, err := s.roundTrip(part, up, ur)
		if err != nil {
			return nil, err
		}
		if len(r) < headerLen+5 || r[headerLen+4] != 0 {
			return r, nil // not a single-document OP_MSG reply: pass it on unchanged
		}
		var res struct {
			OK      float64 `bson:"ok"`
			Before  int32   `bson:"numIndexesBefore"`
			After   int32   `bson:"numIndexesAfter"`
			Created bool    `bson:"createdCollectionAutomatically"`
		}
		if err := bson.Unmarshal(r[headerLen+5:], &res); err != nil || res.OK != 1 {
			return r, nil
		}
		if i == 0 {
			before = res.Before
		}
		after = res.After
		created = created || res.Created
	}
	out := bson.D{{Key: "numIndexesBefore", Value: before}, {Key: "numIndexesAfter", Value: after}}
	if after > before {
		out = append(out, bson.E{Key: "createdCollectionAutomatically", Value: created})
	} else {
		out = append(out, bson.E{Key: "note", Value: "all indexes already exist"})
	}
	doc, err := bson.Marshal(append(out, bson.E{Key: "ok", Value: 1.0}))
	if err != nil {
		return nil, err
	}
	return docReply(req, doc), nil
}
