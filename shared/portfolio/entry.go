package portfolio

import (
	"context"

	"github.com/cryptovault/serverless/shared/ledger"
)

// entry returns the user's entry id (see ledger.Entry).
func (s *Service) entry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
	return s.ledger.Entry(ctx, userID, id)
}
