package accounts

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/twofactor"
)

// codeWrite is what a route writes in the update that accepts its code: accepting the code and
// acting on it are one conditional update, so that the code works once and a request whose code
// loses a race (or is wrong) changes nothing. One update writes each path once: a field of the
// route that covers the backup code being consumed (totp.backup, replaced or removed) consumes
// it by itself, since unsetting the code's key beside it would be a conflicting path.
type codeWrite struct {
	// when holds conditions on the state the route read, which its new state builds on.
	when  bson.D
	set   bson.D
	unset []string
}

// filter is the update's filter: the user, the code's own condition (unless when has it), when.
func (w codeWrite) filter(userID string, own bson.E) bson.D {
	f := bson.D{{Key: "_id", Value: userID}}
	if !slices.ContainsFunc(w.when, func(e bson.E) bool { return e.Key == own.Key }) {
		f = append(f, own)
	}
	return append(f, w.when...)
}

// covers reports whether w writes path or a field that contains it.
func (w codeWrite) covers(path string) bool {
	within := func(f string) bool { return f == path || strings.HasPrefix(path, f+".") }
	for _, e := range w.set {
		if within(e.Key) {
			return true
		}
	}
	return slices.ContainsFunc(w.unset, within)
}

// update is w's $set and $unset, with more fields to unset.
func (w codeWrite) update(unset ...string) bson.D {
	var update bson.D
	if len(w.set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: w.set})
	}
	fields := bson.D{}
	for _, f := range append(slices.Clone(w.unset), unset...) {
		fields = append(fields, bson.E{Key: f, Value: ""})
	}
	if len(fields) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: fields})
	}
	return update
}

// acceptCode accepts a current TOTP code or an unused backup code for u, once, and writes w in
// the same update: the TOTP step is recorded, or the backup code removed, by an update
// conditional on the code being unused, so two requests racing with the same code cannot both
// succeed.
func (s *Service) acceptCode(ctx context.Context, u *user, code string, w codeWrite) (bool, error) {
	code = strings.TrimSpace(code)
	if twofactor.LooksLikeBackupCode(code) {
		hashes := slices.Sorted(maps.Keys(u.TOTP.Backup))
		i, ok := twofactor.MatchBackupCode(hashes, code)
		if !ok {
			return false, nil
		}
		field := "totp.backup." + hashes[i]
		var consume []string
		if !w.covers(field) {
			consume = append(consume, field)
		}
		return s.updateUser(ctx,
			w.filter(u.ID, bson.E{Key: field, Value: bson.D{{Key: "$exists", Value: true}}}),
			w.update(consume...))
	}
	return s.acceptTOTP(ctx, u, u.TOTP.Secret, code, w)
}

// acceptTOTP checks a TOTP code against secret and records its time step, writing w in the same
// update (verify uses it to enable 2FA atomically with accepting the code). w must not write
// totp.last_step or totp as a whole: the accepted step is this update's.
func (s *Service) acceptTOTP(ctx context.Context, u *user, secret, code string, w codeWrite) (bool, error) {
	if secret == "" {
		return false, nil
	}
	step, ok := twofactor.Verify(secret, code, s.now(), u.TOTP.LastStep)
	if !ok {
		return false, nil
	}
	w.set = append(bson.D{{Key: "totp.last_step", Value: step}}, w.set...)
	return s.updateUser(ctx,
		w.filter(u.ID, bson.E{Key: "totp.last_step", Value: bson.D{{Key: "$lt", Value: step}}}),
		w.update())
}

// codeFailed counts a wrong code or password on an authenticated route toward the lockout and
// answers 422 (not 401: the frontend would take a 401 for an expired session).
func (s *Service) codeFailed(r *http.Request, u *user, answer *web.Error) error {
	s.audit.Record(r, auditEvent(u.ID, "LOGIN_FAILED", "failure", map[string]any{"reason": answer.Code}))
	s.count(r.Context(), "FailedLogins")
	if err := s.recordFailure(r, u.Email, u.ID); err != nil {
		return err
	}
	return answer
}

// codeChecked ends the check of a 2FA or backup code that a route's update accepted (ok) or
// refused: a refused code counts toward the lockout (codeFailed); an accepted one clears the
// failures and records action in the audit log.
func (s *Service) codeChecked(r *http.Request, u *user, failures int, ok bool, action string) error {
	if !ok {
		return s.codeFailed(r, u, errInvalidTOTP(http.StatusUnprocessableEntity))
	}
	if err := s.resetFailures(r.Context(), u.Email, failures); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, action, "success", nil))
	return nil
}

// lockedUser loads the caller and refuses while the caller's address is locked.
func (s *Service) lockedUser(r *http.Request) (*user, int, error) {
	u, err := s.currentUser(r)
	if err != nil {
		return nil, 0, err
	}
	failures, err := s.checkLock(r.Context(), u.Email)
	return u, failures, err
}

func (s *Service) setup2FA(w http.ResponseWriter, r *http.Request) error {
	u, err := s.currentUser(r)
	if err != nil {
		return err
	}
	if u.TOTP.Enabled {
		return errTwoFactor("TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already enabled")
	}
	setup, err := twofactor.NewSetup(u.Email)
	if err != nil {
		return err
	}
	if _, err := s.updateUser(r.Context(), bson.D{{Key: "_id", Value: u.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "totp.pending_secret", Value: setup.Secret}}}}); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{
		"secret": setup.Secret, "otpauth_url": setup.URL, "qr_code_url": setup.URL, "qrCode": setup.QRCode,
	})
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

func decodeCode(r *http.Request) (string, error) {
	var req codeRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return "", err
	}
	if strings.TrimSpace(req.Code) == "" {
		return "", web.ValidationError(map[string]string{"code": "is required"})
	}
	return req.Code, nil
}

func (s *Service) verify2FA(w http.ResponseWriter, r *http.Request) error {
	code, err := decodeCode(r)
	if err != nil {
		return err
	}
	u, failures, err := s.lockedUser(r)
	if err != nil {
		return err
	}
	if u.TOTP.Enabled {
		return errTwoFactor("TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already enabled")
	}
	if u.TOTP.PendingSecret == "" {
		return errTwoFactor("TWO_FACTOR_NOT_SET_UP", "Start two-factor setup first")
	}
	codes, backup, err := newBackupSet()
	if err != nil {
		return err
	}
	ok, err := s.acceptTOTP(r.Context(), u, u.TOTP.PendingSecret, code, codeWrite{set: bson.D{
		{Key: "totp.enabled", Value: true}, {Key: "totp.secret", Value: u.TOTP.PendingSecret},
		{Key: "totp.pending_secret", Value: ""}, {Key: "totp.backup", Value: backup},
	}})
	if err != nil {
		return err
	}
	if err := s.codeChecked(r, u, failures, ok, "TWO_FACTOR_ENABLED"); err != nil {
		return err
	}
	writeBackupCodes(w, "Two-factor authentication enabled. Store these backup codes safely: they are shown once.", codes)
	return nil
}

func newBackupSet() ([]string, map[string]bool, error) {
	codes, hashes, err := twofactor.NewBackupCodes()
	if err != nil {
		return nil, nil, err
	}
	set := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		set[h] = true
	}
	return codes, set, nil
}

// backupReplacement makes a new set of backup codes and the codeWrite that replaces the stored
// set (old, as read) with it, key by key: each old code's key unset, each new one's set. A $set of
// the whole map would be simpler, but the local engine skips a $set of an embedded document that
// differs from the stored one only in its keys (it compares the values alone), and two sets of
// ten hashes each mapped to true are such a pair: the old codes would stay valid. Key by key, the
// update merges rather than replaces, so it is conditioned on the map being as read: every old
// key still there (whoever adds keys removes all the old ones in the same update), or, when there
// were none, still empty. A lost race with another writer of the map is a refused code.
func backupReplacement(old map[string]bool) ([]string, codeWrite, error) {
	for {
		codes, hashes, err := twofactor.NewBackupCodes()
		if err != nil {
			return nil, codeWrite{}, err
		}
		if slices.ContainsFunc(hashes, func(h string) bool { _, ok := old[h]; return ok }) {
			continue // one path cannot be both set and unset; a 2^-50 chance per code
		}
		var w codeWrite
		for _, h := range slices.Sorted(maps.Keys(old)) {
			field := "totp.backup." + h
			w.when = append(w.when, bson.E{Key: field, Value: bson.D{{Key: "$exists", Value: true}}})
			w.unset = append(w.unset, field)
		}
		if len(old) == 0 {
			w.when = bson.D{{Key: "totp.backup", Value: bson.D{{Key: "$in", Value: bson.A{bson.D{}, nil}}}}}
		}
		for _, h := range hashes {
			w.set = append(w.set, bson.E{Key: "totp.backup." + h, Value: true})
		}
		return codes, w, nil
	}
}

func writeBackupCodes(w http.ResponseWriter, message string, codes []string) {
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": message, "backup_codes": codes, "backupCodes": codes})
}

func (s *Service) status2FA(w http.ResponseWriter, r *http.Request) error {
	u, err := s.currentUser(r)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"enabled": u.TOTP.Enabled})
	return nil
}

type disableRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (s *Service) disable2FA(w http.ResponseWriter, r *http.Request) error {
	var req disableRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.Password == "" {
		fields["password"] = "is required"
	}
	if strings.TrimSpace(req.Code) == "" {
		fields["code"] = "is required"
	}
	if len(fields) > 0 {
		return web.ValidationError(fields)
	}
	u, failures, err := s.lockedUser(r)
	if err != nil {
		return err
	}
	if !u.TOTP.Enabled {
		return errTwoFactor("TWO_FACTOR_NOT_ENABLED", "Two-factor authentication is not enabled")
	}
	if !s.passwords.matches(u.PasswordHash, req.Password) {
		return s.codeFailed(r, u, errWrongPassword())
	}
	// Accepting the code clears 2FA in the same update: every field but the time step, which
	// stays (the accepted one for a TOTP code) so that a code already used is never taken again.
	ok, err := s.acceptCode(r.Context(), u, req.Code, codeWrite{
		set:   bson.D{{Key: "totp.enabled", Value: false}},
		unset: []string{"totp.secret", "totp.pending_secret", "totp.backup"},
	})
	if err != nil {
		return err
	}
	if err := s.codeChecked(r, u, failures, ok, "TWO_FACTOR_DISABLED"); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, messageResponse{Message: "Two-factor authentication disabled"})
	return nil
}

func (s *Service) regenerateBackupCodes(w http.ResponseWriter, r *http.Request) error {
	code, err := decodeCode(r)
	if err != nil {
		return err
	}
	u, failures, err := s.lockedUser(r)
	if err != nil {
		return err
	}
	if !u.TOTP.Enabled {
		return errTwoFactor("TWO_FACTOR_NOT_ENABLED", "Two-factor authentication is not enabled")
	}
	// The new set replaces the old one in the update that accepts the code (a backup code among
	// the old ones goes with them).
	codes, replace, err := backupReplacement(u.TOTP.Backup)
	if err != nil {
		return err
	}
	ok, err := s.acceptCode(r.Context(), u, code, replace)
	if err != nil {
		return err
	}
	if err := s.codeChecked(r, u, failures, ok, "BACKUP_CODES_REGENERATED"); err != nil {
		return err
	}
	writeBackupCodes(w, "New backup codes generated; the old ones no longer work. They are shown once.", codes)
	return nil
}
