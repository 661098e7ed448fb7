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

// acceptCode accepts a current TOTP code or an unused backup code for u, once: the TOTP step is
// recorded and a backup code removed by conditional updates, so two requests racing with the same
// code cannot both succeed.
func (s *Service) acceptCode(ctx context.Context, u *user, code string) (bool, error) {
	code = strings.TrimSpace(code)
	if twofactor.LooksLikeBackupCode(code) {
		hashes := slices.Sorted(maps.Keys(u.TOTP.Backup))
		i, ok := twofactor.MatchBackupCode(hashes, code)
		if !ok {
			return false, nil
		}
		field := "totp.backup." + hashes[i]
		return s.updateUser(ctx,
			bson.D{{Key: "_id", Value: u.ID}, {Key: field, Value: bson.D{{Key: "$exists", Value: true}}}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: field, Value: ""}}}})
	}
	return s.acceptTOTP(ctx, u, u.TOTP.Secret, code, nil)
}

// acceptTOTP checks a TOTP code against secret and records its time step; extra is applied in the
// same update (verify uses it to enable 2FA atomically with accepting the code).
func (s *Service) acceptTOTP(ctx context.Context, u *user, secret, code string, extra bson.D) (bool, error) {
	if secret == "" {
		return false, nil
	}
	step, ok := twofactor.Verify(secret, code, s.now(), u.TOTP.LastStep)
	if !ok {
		return false, nil
	}
	set := append(bson.D{{Key: "totp.last_step", Value: step}}, extra...)
	return s.updateUser(ctx,
		bson.D{{Key: "_id", Value: u.ID}, {Key: "totp.last_step", Value: bson.D{{Key: "$lt", Value: step}}}},
		bson.D{{Key: "$set", Value: set}})
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
	ok, err := s.acceptTOTP(r.Context(), u, u.TOTP.PendingSecret, code, bson.D{
		{Key: "totp.enabled", Value: true}, {Key: "totp.secret", Value: u.TOTP.PendingSecret},
		{Key: "totp.pending_secret", Value: ""}, {Key: "totp.backup", Value: backup},
	})
	if err != nil {
		return err
	}
	if !ok {
		return s.codeFailed(r, u, errInvalidTOTP(http.StatusUnprocessableEntity))
	}
	if err := s.resetFailures(r.Context(), u.Email, failures); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, "TWO_FACTOR_ENABLED", "success", nil))
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
	ok, err := s.acceptCode(r.Context(), u, req.Code)
	if err != nil {
		return err
	}
	if !ok {
		return s.codeFailed(r, u, errInvalidTOTP(http.StatusUnprocessableEntity))
	}
	if _, err := s.updateUser(r.Context(), bson.D{{Key: "_id", Value: u.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "totp", Value: totpState{LastStep: u.TOTP.LastStep}}}}}); err != nil {
		return err
	}
	if err := s.resetFailures(r.Context(), u.Email, failures); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, "TWO_FACTOR_DISABLED", "success", nil))
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
	ok, err := s.acceptCode(r.Context(), u, code)
	if err != nil {
		return err
	}
	if !ok {
		return s.codeFailed(r, u, errInvalidTOTP(http.StatusUnprocessableEntity))
	}
	codes, backup, err := newBackupSet()
	if err != nil {
		return err
	}
	if _, err := s.updateUser(r.Context(), bson.D{{Key: "_id", Value: u.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "totp.backup", Value: backup}}}}); err != nil {
		return err
	}
	if err := s.resetFailures(r.Context(), u.Email, failures); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, "BACKUP_CODES_REGENERATED", "success", nil))
	writeBackupCodes(w, "New backup codes generated; the old ones no longer work. They are shown once.", codes)
	return nil
}
