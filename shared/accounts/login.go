package accounts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
)

type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (s *Service) signup(w http.ResponseWriter, r *http.Request) error {
	var req signupRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	email, ok := normalizeEmail(req.Email)
	if !ok {
		fields["email"] = "must be a valid email address of at most 254 characters"
	}
	name, problem := normalizeName(req.Name)
	if problem != "" {
		fields["name"] = problem
	}
	if problem := passwordProblem(req.Password); problem != "" {
		fields["password"] = problem
	}
	if len(fields) > 0 {
		return web.ValidationError(fields)
	}
	if _, err := bodyDelivery(r); err != nil {
		return err
	}

	hash, err := s.passwords.hash(req.Password)
	if err != nil {
		return err
	}
	code, pending, err := s.newVerification()
	if err != nil {
		return err
	}
	u := &user{ID: newID(), Email: email, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC().Truncate(1e6), Verification: pending}
	if err := s.insertUser(r.Context(), u); err != nil {
		if err == errEmailTaken {
			return errEmailTakenResponse()
		}
		return err
	}
	// The account (and its starting deposit) is opened after the user exists: a taken email must
	// leave nothing behind. If this step fails the user is still created; login opens the
	// account then (OpenAccount is idempotent). The insert alone is the opening: the deposit is
	// in the account, pending, from then on.
	ctx := r.Context()
	opened, err := s.ledger.CommitOpening(ctx, u.ID, s.startingCash())
	if err != nil {
		return err
	}
	// What is left needs the user and its account, not one another: the account_opened flag,
	// the deposit's record in the ledger, the mail, the audit entry and the session go out
	// together (one round trip, not five). The flag may precede the record: with the account
	// open, a deposit still pending is every reader's to flush, so login has nothing to repair.
	// Its clearing from pending is left to the account's next update (the first read pays it).
	var (
		wg      sync.WaitGroup
		flagErr error
	)
	wg.Go(func() { flagErr = s.markAccountOpened(ctx, u.ID) })
	// The account is open and balanced (a pending deposit counts): a failed record is not the
	// caller's failure, and the next reader records it.
	wg.Go(func() { opened.RecordOrLeave(ctx) })
	wg.Go(func() { s.sendVerification(r, u.Email, code) })
	wg.Go(func() { s.audit.Record(r, auditEvent(u.ID, "USER_SIGNUP", "success", nil)) })

	pub := u.public()
	if s.cfg.RequireEmailVerification {
		wg.Wait()
		if flagErr != nil {
			return flagErr
		}
		web.WriteJSON(w, http.StatusCreated, map[string]any{
			"user": pub, "message": "Account created. Enter the code we sent to your email to verify it.",
		})
		return nil
	}
	sess, refresh, err := s.createSession(ctx, u.ID, r.UserAgent(), clientIP(r))
	wg.Wait()
	if err := errors.Join(flagErr, err); err != nil {
		return err
	}
	return s.sendTokens(w, r, http.StatusCreated, tokenResponse{User: &pub}, u.ID, sess.ID, refresh)
}

// openAccount opens the user's ledger account with the starting cash, once: a flag on the user
// records that it is done, so login can repair a signup interrupted between the two steps
// without a ledger read on every login.
func (s *Service) openAccount(r *http.Request, u *user) error {
	if err := s.ledger.OpenAccount(r.Context(), u.ID, s.startingCash()); err != nil {
		return err
	}
	return s.markAccountOpened(r.Context(), u.ID)
}

// markAccountOpened sets the flag of openAccount, once the account exists.
func (s *Service) markAccountOpened(ctx context.Context, userID string) error {
	_, err := s.updateUser(ctx, bson.D{{Key: "_id", Value: userID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "account_opened", Value: true}}}})
	return err
}

// startSession creates a session for u and answers with its tokens.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, status int, u *user) error {
	sess, refresh, err := s.createSession(r.Context(), u.ID, r.UserAgent(), clientIP(r))
	if err != nil {
		return err
	}
	pub := u.public()
	return s.sendTokens(w, r, status, tokenResponse{User: &pub}, u.ID, sess.ID, refresh)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"`
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if strings.TrimSpace(req.Email) == "" {
		fields["email"] = "is required"
	}
	if req.Password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		return web.ValidationError(fields)
	}
	if _, err := bodyDelivery(r); err != nil {
		return err
	}
	ctx := r.Context()
	// An address that cannot exist is counted and answered like a wrong password: the response
	// must not tell which addresses are accounts.
	email, valid := normalizeEmail(req.Email)
	if !valid {
		email = strings.ToLower(strings.TrimSpace(req.Email))
	}
	// The lock and the user are read together: neither read depends on the other, and the
	// user read costs nothing when the address turns out to be locked.
	var (
		wg      sync.WaitGroup
		u       *user
		userErr error
	)
	if valid {
		wg.Go(func() { u, userErr = s.userByEmail(ctx, email) })
	}
	failures, err := s.checkLock(ctx, email)
	wg.Wait()
	if err != nil {
		return err
	}
	if userErr != nil && userErr != errNoUser {
		return userErr
	}
	stored, userID := "", ""
	if u != nil {
		stored, userID = u.PasswordHash, u.ID
	}
	if !s.passwords.matches(stored, req.Password) {
		return s.loginFailed(r, email, userID, "password", errInvalidCredentials())
	}
	if u.TOTP.Enabled {
		if strings.TrimSpace(req.TOTPCode) == "" {
			return errTOTPRequired()
		}
		ok, err := s.acceptCode(ctx, u, req.TOTPCode, codeWrite{})
		if err != nil {
			return err
		}
		if !ok {
			return s.loginFailed(r, email, userID, "totp", errInvalidTOTP(http.StatusUnauthorized))
		}
	}
	if s.cfg.RequireEmailVerification && !u.EmailVerified {
		return errEmailNotVerified()
	}
	if err := s.resetFailures(ctx, email, failures); err != nil {
		return err
	}
	if !u.AccountOpened {
		if err := s.openAccount(r, u); err != nil {
			return err
		}
	}
	s.count(ctx, "Logins")
	// The audit entry goes out beside the session: it has never waited for it.
	wg.Go(func() { s.audit.Record(r, auditEvent(u.ID, "USER_LOGIN", "success", nil)) })
	defer wg.Wait()
	return s.startSession(w, r, http.StatusOK, u)
}

// loginFailed counts the failure, audits it and answers: the lock's 429 if this failure started
// it, else answer.
func (s *Service) loginFailed(r *http.Request, email, userID, reason string, answer error) error {
	s.audit.Record(r, auditEvent(userID, "LOGIN_FAILED", "failure", map[string]any{"reason": reason}))
	s.count(r.Context(), "FailedLogins")
	if err := s.recordFailure(r, email, userID); err != nil {
		return err
	}
	return answer
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	if err := s.revokeSessions(r.Context(), p.SessionID); err != nil {
		return err
	}
	auth.ClearTokenCookies(w, r, s.cookies)
	s.audit.Record(r, auditEvent(p.UserID, "USER_LOGOUT", "success", nil))
	web.WriteJSON(w, http.StatusOK, messageResponse{Message: "Logged out"})
	return nil
}

func (s *Service) me(w http.ResponseWriter, r *http.Request) error {
	u, err := s.currentUser(r)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"user": u.public()})
	return nil
}

// currentUser loads the authenticated caller; a token whose user no longer exists is 401.
func (s *Service) currentUser(r *http.Request) (*user, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return nil, errUnauthenticated()
	}
	u, err := s.userByID(r.Context(), p.UserID)
	if err == errNoUser {
		return nil, errUnauthenticated()
	}
	return u, err
}

// clientIP is the caller's address as API Gateway saw it (the Lambda adapter puts sourceIp in
// RemoteAddr).
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && strings.Count(host, ":") == 1 {
		host = host[:i]
	}
	return truncate(host, 64)
}
