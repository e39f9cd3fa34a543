package service

import (
	"hash/maphash"
	"sync"
)

// maxDecoded bounds a decodeCache; it is emptied when full.
const maxDecoded = 2048

// decodeCache remembers decoded resource bodies by ARN and a seeded hash of
// the body bytes, so reading an unchanged resource skips JSON decoding.
// Cached values are shared and must be treated as read-only.
type decodeCache[T any] struct {
	seed maphash.Seed
	once sync.Once
	mu   sync.Mutex
	m    map[decodeKey]*T
}

type decodeKey struct {
	arn  string
	hash uint64
	size int
}

func (c *decodeCache[T]) key(arn string, body []byte) decodeKey {
	c.once.Do(func() { c.seed = maphash.MakeSeed() })
	return decodeKey{arn: arn, hash: maphash.Bytes(c.seed, body), size: len(body)}
}

// get returns the decoded body, decoding and remembering it on a miss.
func (c *decodeCache[T]) get(arn string, body []byte, decode func([]byte) (*T, error)) (*T, error) {
	k := c.key(arn, body)
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := decode(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = make(map[decodeKey]*T)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}
