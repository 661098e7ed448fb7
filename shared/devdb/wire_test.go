package devdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// wireMsg assembles a message from a header and body parts, fixing
// messageLength.
func wireMsg(requestID int32, opCode uint32, parts ...[]byte) []byte {
	msg := make([]byte, headerLen)
	binary.LittleEndian.PutUint32(msg[4:], uint32(requestID))
	binary.LittleEndian.PutUint32(msg[12:], opCode)

	for _, p := range parts {
		msg = append(msg, p...)
	}

	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))

	return msg
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func doc(t *testing.T, d bson.D) []byte {
	t.Helper()

	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}

	return b
}

// body is an OP_MSG kind 0 section.
func body(t *testing.T, d bson.D) []byte { return append([]byte{0}, doc(t, d)...) }

// seq is an OP_MSG kind 1 section.
func seq(t *testing.T, id string, docs ...bson.D) []byte {
	var payload []byte
	payload = append(append(payload, id...), 0)

	for _, d := range docs {
		payload = append(payload, doc(t, d)...)
	}

	return append(append([]byte{1}, u32(uint32(4+len(payload)))...), payload...)
}

// withChecksum appends a CRC-32C of the message and sets checksumPresent.
func withChecksum(msg []byte, corrupt bool) []byte {
	msg = bytes.Clone(msg)
	binary.LittleEndian.PutUint32(msg[headerLen:], binary.LittleEndian.Uint32(msg[headerLen:])|msgChecksumPresent)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)+4))

	sum := crc32.Checksum(msg, castagnoli)
	if corrupt {
		sum++
	}

	return append(msg, u32(sum)...)
}

func TestPrepareRequest(t *testing.T) {
	find := bson.D{{Key: "Find", Value: "c"}, {Key: "$db", Value: "test"}}
	plain := wireMsg(7, opMsg, u32(0), body(t, find))

	tests := []struct {
		name       string
		msg        []byte
		err        error  // expected error, nil for success
		command    string // expected lower-cased command name
		moreToCome bool   // expected request.moreToCome
		want       []byte // expected rewritten message; nil = unchanged input
	}{{
		name:    "plain OP_MSG",
		msg:     plain,
		command: "find",
	}, {
		name:       "moreToCome cleared",
		msg:        wireMsg(7, opMsg, u32(msgMoreToCome), body(t, find)),
		command:    "find",
		moreToCome: true,
		want:       plain,
	}, {
		name:    "exhaustAllowed stripped",
		msg:     wireMsg(7, opMsg, u32(msgExhaustAllowed), body(t, find)),
		command: "find",
		want:    plain,
	}, {
		name:    "unknown optional flag kept",
		msg:     wireMsg(7, opMsg, u32(1<<20), body(t, find)),
		command: "find",
	}, {
		name:       "checksum removed and length fixed",
		msg:        withChecksum(wireMsg(7, opMsg, u32(msgMoreToCome|msgExhaustAllowed), body(t, find)), false),
		command:    "find",
		moreToCome: true,
		want:       plain,
	}, {
		name: "bad checksum",
		msg:  withChecksum(plain, true),
		err:  errChecksum,
	}, {
		name: "checksum flag without checksum",
		msg:  wireMsg(7, opMsg, u32(msgChecksumPresent)),
		err:  errMalformed,
	}, {
		name: "document sequence before body",
		msg: wireMsg(7, opMsg, u32(0),
			seq(t, "documents", bson.D{{Key: "_id", Value: 1}}, bson.D{{Key: "_id", Value: 2}}),
			body(t, bson.D{{Key: "insert", Value: "c"}, {Key: "$db", Value: "test"}})),
		command: "insert",
	}, {
		name: "no body section",
		msg:  wireMsg(7, opMsg, u32(0), seq(t, "documents", bson.D{{Key: "_id", Value: 1}})),
		err:  errMalformed,
	}, {
		name: "two body sections",
		msg:  wireMsg(7, opMsg, u32(0), body(t, find), body(t, find)),
		err:  errMalformed,
	}, {
		name: "body overruns message",
		msg:  wireMsg(7, opMsg, u32(0), body(t, find)[:10]),
		err:  errMalformed,
	}, {
		name: "unknown section kind",
		msg:  wireMsg(7, opMsg, u32(0), append([]byte{2}, doc(t, find)...)),
		err:  errMalformed,
	}, {
		name: "empty command document",
		msg:  wireMsg(7, opMsg, u32(0), body(t, bson.D{})),
		err:  errMalformed,
	}, {
		name: "flags truncated",
		msg:  wireMsg(7, opMsg, []byte{0, 0}),
		err:  errMalformed,
	}, {
		name: "length field disagrees",
		msg:  append(bytes.Clone(plain), 0),
		err:  errMalformed,
	}, {
		name: "OP_COMPRESSED refused",
		msg:  wireMsg(7, opCompressed, u32(opMsg), u32(100), []byte{0}, plain[headerLen:]),
		err:  errCompressed,
	}, {
		name: "legacy OP_INSERT refused",
		msg:  wireMsg(7, 2002, u32(0), []byte("test.c\x00"), doc(t, bson.D{{Key: "_id", Value: 1}})),
		err:  errUnsupported,
	}, {
		name: "OP_QUERY handshake",
		msg: wireMsg(7, opQuery, u32(0), []byte("admin.$cmd\x00"), u32(0), u32(0xffffffff),
			doc(t, bson.D{{Key: "isMaster", Value: 1}})),
		command: "ismaster",
	}, {
		name: "OP_QUERY exhaust stripped",
		msg: wireMsg(7, opQuery, u32(queryExhaust|4), []byte("admin.$cmd\x00"), u32(0), u32(1),
			doc(t, bson.D{{Key: "hello", Value: 1}})),
		command: "hello",
		want: wireMsg(7, opQuery, u32(4), []byte("admin.$cmd\x00"), u32(0), u32(1),
			doc(t, bson.D{{Key: "hello", Value: 1}})),
	}, {
		name: "OP_QUERY $query wrapper",
		msg: wireMsg(7, opQuery, u32(0), []byte("admin.$cmd\x00"), u32(0), u32(1),
			doc(t, bson.D{{Key: "$query", Value: bson.D{{Key: "buildInfo", Value: 1}}}})),
		command: "buildinfo",
	}, {
		name: "OP_QUERY truncated",
		msg:  wireMsg(7, opQuery, u32(0), []byte("admin.$cmd")),
		err:  errMalformed,
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == nil {
				want = bytes.Clone(tc.msg)
			}

			req, err := prepareRequest(bytes.Clone(tc.msg))

			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}

				return
			}

			if err != nil {
				t.Fatalf("err = %v", err)
			}

			if req.command != tc.command || req.moreToCome != tc.moreToCome || req.requestID != 7 {
				t.Fatalf("got command %q moreToCome %v requestID %d; want %q %v 7",
					req.command, req.moreToCome, req.requestID, tc.command, tc.moreToCome)
			}

			if !bytes.Equal(req.msg, want) {
				t.Fatalf("rewritten message\n got %x\nwant %x", req.msg, want)
			}
		})
	}
}

func TestReadMessage(t *testing.T) {
	withLen := func(n uint32, rest []byte) []byte {
		return append(u32(n), append(make([]byte, headerLen-4), rest...)...)
	}

	good := wireMsg(1, opMsg, u32(0), []byte{1, 2, 3})

	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{name: "complete", in: good},
		{name: "two messages read one", in: append(bytes.Clone(good), good...)},
		{name: "length below header", in: withLen(15, nil), err: errMalformed},
		{name: "negative length", in: withLen(0x80000000, nil), err: errMalformed},
		{name: "over 48 MB", in: withLen(maxMessageSize+1, nil), err: errMalformed},
		{name: "48 MB allowed but truncated", in: withLen(maxMessageSize, []byte{1}), err: io.ErrUnexpectedEOF},
		{name: "truncated body", in: good[:len(good)-1], err: io.ErrUnexpectedEOF},
		{name: "truncated header", in: good[:10], err: io.ErrUnexpectedEOF},
		{name: "closed stream", in: nil, err: io.EOF},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := readMessage(bytes.NewReader(tc.in))

			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}

				return
			}

			if err != nil || !bytes.Equal(msg, good) {
				t.Fatalf("got %x, %v; want %x", msg, err, good)
			}
		})
	}
}

func TestCheckReply(t *testing.T) {
	req := request{requestID: 9, opCode: opMsg}
	reply := func(responseTo int32, flags uint32) []byte {
		msg := wireMsg(100, opMsg, u32(flags), body(t, bson.D{{Key: "ok", Value: 1.0}}))
		binary.LittleEndian.PutUint32(msg[8:], uint32(responseTo))

		return msg
	}

	if err := checkReply(reply(9, 0), req); err != nil {
		t.Errorf("matching reply: %v", err)
	}

	if err := checkReply(reply(8, 0), req); err == nil {
		t.Error("reply to another request accepted")
	}

	if err := checkReply(reply(9, msgMoreToCome), req); err == nil {
		t.Error("streaming reply accepted")
	}
}

func TestErrorReply(t *testing.T) {
	for _, op := range []int32{opMsg, opQuery} {
		msg := errorReply(request{requestID: 5, opCode: op}, 91, "shutting down")

		if int(binary.LittleEndian.Uint32(msg)) != len(msg) || binary.LittleEndian.Uint32(msg[8:]) != 5 {
			t.Fatalf("op %d: bad header %x", op, msg[:headerLen])
		}

		off := headerLen + 5 // OP_MSG: flagBits + section kind

		if op == opQuery {
			if binary.LittleEndian.Uint32(msg[12:]) != opReply {
				t.Fatalf("OP_QUERY answered with opcode %d", binary.LittleEndian.Uint32(msg[12:]))
			}

			off = headerLen + 20
		}

		var got struct {
			OK     float64
			Code   int32
			Errmsg string
		}
		if err := bson.Unmarshal(msg[off:], &got); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}

		if got.OK != 0 || got.Code != 91 || got.Errmsg != "shutting down" {
			t.Fatalf("op %d: reply %+v", op, got)
		}
	}
}
