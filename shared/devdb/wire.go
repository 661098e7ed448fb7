package devdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Wire protocol constants. Only the subset the proxy has to understand is
// listed; everything else is passed through untouched.
const (
	// headerLen is the size of the standard message header
	// (messageLength, requestID, responseTo, opCode).
	headerLen = 16

	// maxMessageSize matches maxMessageSizeBytes that MongoDB (and FerretDB)
	// advertise in hello; anything larger is a corrupt or hostile stream.
	maxMessageSize = 48_000_000

	opReply      = 1
	opQuery      = 2004
	opCompressed = 2012
	opMsg        = 2013

	// OP_MSG flag bits.
	msgChecksumPresent = 1 << 0
	msgMoreToCome      = 1 << 1
	msgExhaustAllowed  = 1 << 16

	// OP_QUERY flag bit asking the server to stream all batches.
	queryExhaust = 1 << 6
)

// Errors returned for requests the proxy refuses to forward. The connection
// is closed on any of them, which the driver treats as a network error.
var (
	errMalformed   = errors.New("devdb: malformed wire message")
	errCompressed  = errors.New("devdb: OP_COMPRESSED is not supported")
	errUnsupported = errors.New("devdb: unsupported opcode")
	errChecksum    = errors.New("devdb: OP_MSG checksum mismatch")
)

// castagnoli is the CRC-32C table used by OP_MSG checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readMessage reads exactly one wire message (header included) from r.
// The length is validated before allocating so that a corrupt stream cannot
// make the proxy allocate gigabytes.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}

	n := int32(binary.LittleEndian.Uint32(hdr[0:4]))
	if n < headerLen || n > maxMessageSize {
		return nil, fmt.Errorf("%w: messageLength %d", errMalformed, n)
	}

	msg := make([]byte, n)
	copy(msg, hdr[:])

	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}

		return nil, err
	}

	return msg, nil
}

// request is a client message after it has been rewritten for forwarding.
type request struct {
	msg        []byte // rewritten message, ready to send to the engine
	opCode     int32
	requestID  int32
	command    string // lower-cased first key of the command document
	moreToCome bool   // the client expects no reply (w:0 write)
	body       int    // OP_MSG: offset of the body (kind 0) section's document in msg
	sections   int    // OP_MSG: number of sections
}

// prepareRequest validates a client message and rewrites it so that the
// engine always answers with exactly one reply:
//   - OP_MSG moreToCome is cleared (FerretDB replies anyway; the proxy drops
//     the reply itself, see request.moreToCome),
//   - OP_MSG exhaustAllowed and OP_QUERY exhaust are cleared, so the engine
//     never streams several replies to one request,
//   - an OP_MSG checksum is verified and removed, because changing the flag
//     bits would invalidate it.
//
// OP_COMPRESSED and the legacy opcodes without a reply are refused.
// msg is modified in place.
func prepareRequest(msg []byte) (request, error) {
	if len(msg) < headerLen || int(binary.LittleEndian.Uint32(msg[0:4])) != len(msg) {
		return request{}, errMalformed
	}

	req := request{
		requestID: int32(binary.LittleEndian.Uint32(msg[4:8])),
		opCode:    int32(binary.LittleEndian.Uint32(msg[12:16])),
	}

	var err error

	switch req.opCode {
	case opMsg:
		msg, err = prepareOpMsg(msg, &req)
	case opQuery:
		err = prepareOpQuery(msg, &req)
	case opCompressed:
		err = errCompressed
	default:
		err = fmt.Errorf("%w: %d", errUnsupported, req.opCode)
	}

	if err != nil {
		return request{}, err
	}

	req.msg = msg

	return req, nil
}

// prepareOpMsg handles the OP_MSG part of prepareRequest and returns the
// (possibly shortened) message.
func prepareOpMsg(msg []byte, req *request) ([]byte, error) {
	if len(msg) < headerLen+4 {
		return nil, errMalformed
	}

	flags := binary.LittleEndian.Uint32(msg[headerLen:])

	if flags&msgChecksumPresent != 0 {
		if len(msg) < headerLen+4+4 {
			return nil, errMalformed
		}

		end := len(msg) - 4
		if crc32.Checksum(msg[:end], castagnoli) != binary.LittleEndian.Uint32(msg[end:]) {
			return nil, errChecksum
		}

		msg = msg[:end]
		binary.LittleEndian.PutUint32(msg[0:4], uint32(len(msg)))
	}

	req.moreToCome = flags&msgMoreToCome != 0
	flags &^= msgChecksumPresent | msgMoreToCome | msgExhaustAllowed
	binary.LittleEndian.PutUint32(msg[headerLen:], flags)

	// Walk the sections to find the single body (kind 0) section; its first
	// key is the command name.
	body := -1
	for off := headerLen + 4; off < len(msg); {
		kind := msg[off]
		off++

		size, ok := int32At(msg, off)
		if !ok {
			return nil, errMalformed
		}

		switch kind {
		case 0:
			if body >= 0 || size < 5 {
				return nil, errMalformed
			}

			body = off
		case 1:
			if size < 4 {
				return nil, errMalformed
			}
		default:
			return nil, fmt.Errorf("%w: section kind %d", errMalformed, kind)
		}

		if int(size) > len(msg)-off {
			return nil, errMalformed
		}

		off += int(size)
		req.sections++
	}

	if body < 0 {
		return nil, fmt.Errorf("%w: no body section", errMalformed)
	}

	name, err := firstKey(msg[body:])
	if err != nil {
		return nil, err
	}

	req.command = strings.ToLower(name)
	req.body = body

	return msg, nil
}

// prepareOpQuery handles the OP_QUERY part of prepareRequest. The driver
// may use OP_QUERY for the initial handshake only.
func prepareOpQuery(msg []byte, req *request) error {
	off := headerLen
	if len(msg) < off+4 {
		return errMalformed
	}

	flags := binary.LittleEndian.Uint32(msg[off:])
	binary.LittleEndian.PutUint32(msg[off:], flags&^queryExhaust)
	off += 4

	// fullCollectionName (cstring), numberToSkip, numberToReturn, query.
	nul := bytes.IndexByte(msg[off:], 0)
	if nul < 0 {
		return errMalformed
	}

	off += nul + 1 + 8
	if off > len(msg) {
		return errMalformed
	}

	doc := msg[off:]

	name, err := firstKey(doc)
	if err != nil {
		return err
	}

	// Legacy drivers wrap commands as {$query: {cmd: ...}, $readPreference: ...}.
	if name == "$query" && len(doc) > 5 && doc[4] == 0x03 {
		inner := doc[4+1+len(name)+1:]
		if name, err = firstKey(inner); err != nil {
			return err
		}
	}

	req.command = strings.ToLower(name)

	return nil
}

// firstKey returns the first element name of the BSON document at the start
// of b, after checking that the document fits into b.
func firstKey(b []byte) (string, error) {
	size, ok := int32At(b, 0)
	if !ok || size < 5 || int(size) > len(b) || b[size-1] != 0 {
		return "", fmt.Errorf("%w: bad BSON document", errMalformed)
	}

	if size == 5 {
		return "", fmt.Errorf("%w: empty command document", errMalformed)
	}

	// b[4] is the element type, the name follows as a cstring.
	nul := bytes.IndexByte(b[5:size], 0)
	if nul < 0 {
		return "", fmt.Errorf("%w: bad BSON element name", errMalformed)
	}

	return string(b[5 : 5+nul]), nil
}

// int32At reads a little-endian int32 at off, reporting whether it fitted.
func int32At(b []byte, off int) (int32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}

	return int32(binary.LittleEndian.Uint32(b[off:])), true
}

// checkReply verifies that an engine message is the single, final reply to
// the request: a mismatched responseTo or a streaming (moreToCome) reply
// would desynchronize the proxy, so the connection is dropped instead.
func checkReply(reply []byte, req request) error {
	if len(reply) < headerLen {
		return errMalformed
	}

	if to := int32(binary.LittleEndian.Uint32(reply[8:12])); to != req.requestID {
		return fmt.Errorf("%w: reply responseTo %d, want %d", errMalformed, to, req.requestID)
	}

	op := int32(binary.LittleEndian.Uint32(reply[12:16]))
	if op == opMsg && (len(reply) < headerLen+4 || binary.LittleEndian.Uint32(reply[headerLen:])&msgMoreToCome != 0) {
		return fmt.Errorf("%w: streaming reply", errMalformed)
	}

	return nil
}

// lastReplyID numbers the replies the proxy fabricates itself.
var lastReplyID atomic.Int32

// errorReply builds a command error reply ({ok: 0, errmsg, code}) to req in
// the reply format the client expects for the request's opcode.
func errorReply(req request, code int, text string) []byte {
	doc, err := bson.Marshal(bson.D{
		{Key: "ok", Value: 0.0},
		{Key: "errmsg", Value: text},
		{Key: "code", Value: int32(code)},
	})
	if err != nil {
		panic(err) // static document: cannot happen
	}

	return docReply(req, doc)
}

// docReply frames doc as the reply to req in the format the client expects for
// the request's opcode.
func docReply(req request, doc []byte) []byte {
	var body []byte
	op := uint32(opMsg)

	if req.opCode == opQuery {
		// OP_REPLY: responseFlags, cursorID, startingFrom, numberReturned.
		op = opReply
		body = make([]byte, 20)
		binary.LittleEndian.PutUint32(body[16:], 1)
	} else {
		// OP_MSG: flagBits, then one body section.
		body = []byte{0, 0, 0, 0, 0}
	}

	msg := make([]byte, headerLen, headerLen+len(body)+len(doc))
	binary.LittleEndian.PutUint32(msg[0:], uint32(headerLen+len(body)+len(doc)))
	binary.LittleEndian.PutUint32(msg[4:], uint32(lastReplyID.Add(1)))
	binary.LittleEndian.PutUint32(msg[8:], uint32(req.requestID))
	binary.LittleEndian.PutUint32(msg[12:], op)

	return append(append(msg, body...), doc...)
}
