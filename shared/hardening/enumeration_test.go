package hardening_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// enumSamples is how many logins of each kind one round measures.
const enumSamples = 24

// enumerationProbe logs in with a wrong password for a real account and with an unknown email,
// through the real auth route, at the production floor of bcrypt (cost 10), and times both.
type enumerationProbe struct {
	s        *stack
	known    *user
	failures int // wrong-password failures since the last success (5 would lock the account)
	unknown  int
}

func newEnumerationProbe(tb testing.TB) *enumerationProbe {
	s := newStack(tb, stackOptions{bcryptCost: 10})
	s.validate = false // not timed: the contract checks are done by the other tests
	p := &enumerationProbe{s: s, known: s.signup("known@example.com")}
	// Warm-up: the dummy hash for unknown emails is computed on first use.
	p.wrongPassword()
	p.unknownEmail()
	return p
}

func (p *enumerationProbe) login(email, pw string) (response, time.Duration) {
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r, err := p.s.send(ctx, "POST", "/api/auth/login", jsonHeader(), body)
	d := time.Since(start)
	if err != nil {
		p.s.t.Fatal(err)
	}
	return r, d
}

func (p *enumerationProbe) wrongPassword() (response, time.Duration) {
	if p.failures == 4 { // a success resets the count, outside the measurement
		if r, _ := p.login(p.known.email, password); r.Status != http.StatusOK {
			p.s.t.Fatalf("reset login: %d %s", r.Status, r.Body)
		}
		p.failures = 0
	}
	p.failures++
	return p.login(p.known.email, "Wrong9Password")
}

func (p *enumerationProbe) unknownEmail() (response, time.Duration) {
	p.unknown++ // a new address each time: no lock either way
	return p.login(fmt.Sprintf("nobody-%d@example.com", p.unknown), "Wrong9Password")
}

// round measures n of each kind, interleaved (alternating which goes first) so that load from
// other tests falls on both alike, and returns the medians.
func (p *enumerationProbe) round(tb testing.TB, n int) (wrong, unknown time.Duration) {
	tb.Helper()
	var ws, us []time.Duration
	for i := range n {
		measure := []func() (response, time.Duration){p.wrongPassword, p.unknownEmail}
		if i%2 == 1 {
			slices.Reverse(measure)
		}
		var got [2]response
		for j, f := range measure {
			r, d := f()
			got[j] = r
			if (j == 0) == (i%2 == 0) {
				ws = append(ws, d)
			} else {
				us = append(us, d)
			}
		}
		for _, r := range got {
			if r.Status != http.StatusUnauthorized {
				tb.Fatalf("login: %d %s, want 401 INVALID_CREDENTIALS", r.Status, r.Body)
			}
		}
		a, b := got[0].JSON(tb), got[1].JSON(tb)
		delete(a, "request_id")
		delete(b, "request_id")
		if fmt.Sprint(a) != fmt.Sprint(b) || !sameHeaderNames(got[0].Header, got[1].Header) {
			tb.Fatalf("unknown email and wrong password answer differently:\n%s %v\n%s %v", got[0].Body, got[0].Header, got[1].Body, got[1].Header)
		}
	}
	return median(ws), median(us)
}

func sameHeaderNames(a, b http.Header) bool {
	var ka, kb []string
	for k := range a {
		ka = append(ka, k)
	}
	for k := range b {
		kb = append(kb, k)
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb) && bytes.Equal([]byte(a.Get("Set-Cookie")), []byte(b.Get("Set-Cookie")))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// within20 reports whether the faster of two durations is at least 80 % of the slower.
func within20(a, b time.Duration) bool {
	lo, hi := min(a, b), max(a, b)
	return hi > 0 && float64(lo) >= 0.8*float64(hi)
}

// TestUserEnumeration: a login with an unknown email and one with a wrong password for a real
// account get the same status, body (but the request id) and header set, and take the same time
// within 20 %: the medians of interleaved samples at bcrypt cost 10 are compared and the ratio is
// reported. It is a measurement, not a deadline: only a second round out of bounds fails (one
// noisy round on a busy machine is not evidence).
func TestUserEnumeration(t *testing.T) {
	p := newEnumerationProbe(t)
	for round := 1; ; round++ {
		wrong, unknown := p.round(t, enumSamples)
		ratio := float64(unknown) / float64(wrong)
		t.Logf("round %d: median over %d logins each: wrong password %v, unknown email %v, ratio unknown/wrong %.3f",
			round, enumSamples, wrong.Round(time.Microsecond), unknown.Round(time.Microsecond), ratio)
		if within20(wrong, unknown) {
			return
		}
		if round == 2 {
			t.Fatalf("an unknown email and a wrong password differ by more than 20 %% in two rounds (ratio %.3f): timing reveals which emails have accounts", ratio)
		}
	}
}

// BenchmarkUserEnumeration reports the same ratio as a metric (make bench): each iteration is one
// login of each kind.
func BenchmarkUserEnumeration(b *testing.B) {
	p := newEnumerationProbe(b)
	var ws, us []time.Duration
	for b.Loop() {
		_, w := p.wrongPassword()
		_, u := p.unknownEmail()
		ws, us = append(ws, w), append(us, u)
	}
	b.ReportMetric(float64(median(us))/float64(median(ws)), "unknown/wrong")
	b.ReportMetric(float64(median(ws).Microseconds()), "wrong-us")
	b.ReportMetric(float64(median(us).Microseconds()), "unknown-us")
}
