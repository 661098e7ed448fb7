package devdb

import (
	"strings"
	"time"
)

// Fault is a fault-injection rule applied by the proxy to matching commands.
// Reliability tests use it to make the database slow or unreachable for
// particular commands without touching the code under test.
//
// For a matching command the proxy first waits Delay, then either closes the
// client connection (Fail), answers with a command error (ErrorCode), or
// forwards the command as usual.
type Fault struct {
	// Command is the command name to match: the first key of the command
	// document ("find", "update", "insert", "ping", ...), compared
	// case-insensitively. "" matches any command except the handshake,
	// authentication and session-cleanup commands the driver sends on its
	// own (hello, isMaster, saslStart, saslContinue, authenticate,
	// getnonce, buildInfo, endSessions): a catch-all rule would otherwise
	// break connection establishment and server monitoring, so that every
	// operation would fail at server selection instead of at the injected
	// fault. Name such a command explicitly to target it.
	Command string

	// Times is how many matching commands the rule applies to; 0 means
	// every matching command until ClearFaults. Note that the driver
	// retries reads (and, on replica sets, writes) once after a network
	// error, so a single Fail may be invisible to the caller: use
	// Times: 2 or disable retries in the client under test.
	Times int

	// Delay is waited before the command is forwarded. It is spent
	// outside the proxy's global command lock, so other connections keep
	// being served while this command is delayed — the delay models a slow
	// network, not a slow engine holding up everybody.
	Delay time.Duration

	// Fail closes the client connection instead of forwarding the command,
	// which the driver reports as a network error. The command never
	// reaches the engine.
	Fail bool

	// ErrorCode, when non-zero and Fail is false, makes the proxy answer
	// with the command error {ok: 0, code: ErrorCode, errmsg: ErrorMessage}
	// instead of forwarding the command. A command sent with w:0 gets no
	// reply and is simply dropped.
	ErrorCode int

	// ErrorMessage is the errmsg of the injected error; "" uses a generic
	// message.
	ErrorMessage string
}

// driverCommands are never matched by a Fault with an empty Command, see
// Fault.Command. Names are lower-cased like request.command.
var driverCommands = map[string]bool{
	"hello":        true,
	"ismaster":     true,
	"saslstart":    true,
	"saslcontinue": true,
	"authenticate": true,
	"getnonce":     true,
	"buildinfo":    true,
	"endsessions":  true,
}

// faultRule is an injected Fault with its remaining use count.
type faultRule struct {
	Fault
	left int // remaining applications; <0 means unlimited
}

// matches reports whether the rule applies to the lower-cased command.
func (r *faultRule) matches(command string) bool {
	if r.Command == "" {
		return !driverCommands[command]
	}

	return strings.EqualFold(r.Command, command)
}

// Inject adds a fault rule. Rules are tried in the order they were
// injected and the first matching one with uses left applies alone: rules
// do not combine.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left <= 0 {
		left = -1
	}

	s.faultMu.Lock()
	defer s.faultMu.Unlock()

	s.faults = append(s.faults, &faultRule{Fault: f, left: left})
}

// ClearFaults removes all fault rules, including unlimited ones.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()

	s.faults = nil
}

// takeFault returns the fault to apply to a command, consuming one use of
// its rule, or ok=false when no rule matches.
func (s *Server) takeFault(command string) (f Fault, ok bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()

	for i, r := range s.faults {
		if !r.matches(command) {
			continue
		}

		if r.left > 0 {
			r.left--
			if r.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}

		return r.Fault, true
	}

	return Fault{}, false
}
