package trading

import (
	"errors"
	"net/http"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/web"
)

type listResponse struct {
	Orders []orderView `json:"orders"`
	Total  int64       `json:"total"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
}

// list is GET /api/orders?status=&limit=&offset=: the caller's orders, newest first (created_at,
// then id, both descending). The count and the page do not depend on each other: one round trip
// of latency, two commands.
func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	q := web.NewQuery(r)
	page := q.Page()
	status := q.String("status", "", statuses...)
	if err := q.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	db, err := s.db(ctx)
	if err != nil {
		return err
	}
	filter := bson.D{{Key: "user_id", Value: userID}}
	if status != "" {
		filter = append(filter, bson.E{Key: "status", Value: status})
	}
	coll := db.Collection(OrdersCollection)
	var (
		wg       sync.WaitGroup
		total    int64
		countErr error
	)
	wg.Go(func() { total, countErr = coll.CountDocuments(ctx, filter) })
	var docs []orderDoc
	cur, err := coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(page.Offset)).SetLimit(int64(page.Limit)))
	if err == nil {
		err = cur.All(ctx, &docs)
	}
	wg.Wait()
	if err := errors.Join(err, countErr); err != nil {
		return err
	}
	for i := range docs {
		docs[i] = docs[i].normalised()
	}
	web.WriteJSON(w, http.StatusOK, listResponse{Orders: views(docs), Total: total, Limit: page.Limit, Offset: page.Offset})
	return nil
}

// get is GET /api/orders/{id}: one command; a miss also reads the account, where an order whose
// document write failed keeps its snapshot (see lookup). A malformed id is 404 without a query.
func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !validOrderID(id) {
		return notFound()
	}
	o, ok, err := s.lookup(r.Context(), userID, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound()
	}
	web.WriteJSON(w, http.StatusOK, map[string]orderView{"order": view(o)})
	return nil
}
