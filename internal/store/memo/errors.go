package memo

import (
	"errors"

	"github.com/goldsmith/goldsmith/internal/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
