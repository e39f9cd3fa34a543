package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/goldsmith/goldsmith/internal/store"
)

// Idempotency keeps clientToken records in the store (it satisfies
// api.Idempotency).
type Idempotency struct {
	st  store.Store
	svc *Service
}

// Idempotency returns the service's clientToken record keeper.
func (s *Service) Idempotency() *Idempotency { return &Idempotency{st: s.st, svc: s} }

// Lookup returns the record for (account, op, token).
func (i *Idempotency) Lookup(ctx context.Context, account, op, token string) (string, []byte, bool, error) {
	var rec *store.IdempotencyRecord
	err := i.st.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.GetIdempotency(ctx, account, op, token)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("idempotency lookup %s/%s: %w", op, token, err)
	}
	return rec.RequestHash, rec.Response, true, nil
}

// Remember stores a record; an existing one is kept.
func (i *Idempotency) Remember(ctx context.Context, account, op, token, hash string, response []byte) error {
	err := i.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutIdempotency(ctx, &store.IdempotencyRecord{
			Account: account, Operation: op, Token: token, RequestHash: hash,
			Response: response, Created: i.svc.now().UTC(),
		})
	})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}
