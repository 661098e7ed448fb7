package devdb

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// acceptLoop accepts client connections until the listener is closed.
func (s *Server) acceptLoop() {
	defer s.wg.Done()

	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}

			// Temporary failures (e.g. out of file descriptors): back
			// off briefly rather than spinning.
			s.log.Warn("devdb accept", slog.Any("err", err))

			select {
			case <-s.closing:
				return
			case <-time.After(50 * time.Millisecond):
			}

			continue
		}

		// Counted here, not in serveConn, so that a connection is open in the
		// counts from the moment Accept returned it until it is closed.
		s.connOpened()
		s.wg.Add(1)

		go s.serveConn(c)
	}
}

// serveConn proxies one client connection over its own upstream connection
// to the engine, one message at a time: read a request, rewrite it, forward
// it and read its reply under the global command lock, then hand the reply
// to the client. Any protocol or network error closes both connections,
// which the driver sees as a network error and answers by reconnecting.
func (s *Server) serveConn(client net.Conn) {
	defer s.wg.Done()
	defer s.connClosed() // after the close below: deferred calls run last-in first-out

	up, err := s.dialUpstream(client)
	if err != nil {
		s.log.Debug("devdb refused connection", slog.Any("err", err))
		_ = client.Close()

		return
	}

	defer func() {
		_ = client.Close()
		_ = up.Close()
		s.forget(client, up)
	}()

	// proxyLoop only returns when the connection ends; EOF and a closed conn are the normal ends.
	if err := s.proxyLoop(client, up); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("devdb connection closed", slog.String("client", client.RemoteAddr().String()), slog.Any("err", err))
	}
}

// errFaultFail closes a connection on behalf of a Fail fault.
var errFaultFail = errors.New("devdb: injected connection failure")

// proxyLoop runs serveConn's message loop until an error; it never returns nil.
func (s *Server) proxyLoop(client, up net.Conn) error {
	cr := bufio.NewReader(client)
	ur := bufio.NewReader(up)

	for {
		msg, err := readMessage(cr)
		if err != nil {
			return err
		}

		req, err := prepareRequest(msg)
		if err != nil {
			return err
		}

		reply, err := s.handle(req, up, ur)
		if err != nil {
			return err
		}

		if reply == nil {
			continue // w:0 request: the client expects no reply
		}

		if _, err = client.Write(reply); err != nil {
			return err
		}
	}
}

// handle applies faults to a request and forwards it, returning the reply
// for the client or nil if the client expects none.
func (s *Server) handle(req request, up net.Conn, ur *bufio.Reader) ([]byte, error) {
	f, faulty := s.takeFault(req.command)
	if faulty {
		if f.Delay > 0 {
			// Outside cmdMu on purpose: see Fault.Delay.
			t := time.NewTimer(f.Delay)

			select {
			case <-t.C:
			case <-s.closing:
				t.Stop()
				return nil, net.ErrClosed
			}
		}

		if f.Fail {
			return nil, errFaultFail
		}

		if f.ErrorCode != 0 {
			if req.moreToCome {
				return nil, nil
			}

			text := f.ErrorMessage
			if text == "" {
				text = "devdb: injected error"
			}

			return errorReply(req, f.ErrorCode, text), nil
		}
	}

	var (
		reply []byte
		err   error
	)

	if parts, ok := splitCreateIndexes(req); ok {
		reply, err = s.createIndexes(req, parts, up, ur) // works around an engine bug: see createindexes.go
	} else {
		reply, err = s.roundTrip(req, up, ur)
	}

	if err != nil {
		return nil, err
	}

	if req.moreToCome {
		return nil, nil // the engine replied anyway; the client must not see it
	}

	return reply, nil
}

// roundTrip sends one request to the engine and reads its single reply
// while holding the global command lock, so engine commands never overlap.
func (s *Server) roundTrip(req request, up net.Conn, ur *bufio.Reader) ([]byte, error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()

	if _, err := up.Write(req.msg); err != nil {
		return nil, err
	}

	s.countMu.Lock()
	s.counts[req.command]++
	s.countMu.Unlock()

	reply, err := readMessage(ur)
	if err != nil {
		return nil, err
	}

	if err = checkReply(reply, req); err != nil {
		return nil, err
	}

	return reply, nil
}
