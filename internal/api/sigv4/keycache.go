package sigv4

import "sync"

// maxCachedKeys bounds the signing-key cache; it is emptied when full.
const maxCachedKeys = 1024

// keyCache memoizes signingKey. Keys are derived from the secret, so a
// cached key is only ever used for a request naming the same secret.
type keyCache struct {
	mu   sync.Mutex
	keys map[[4]string][]byte
}

func (c *keyCache) get(secret, date, region, service string) []byte {
	k := [4]string{secret, date, region, service}
	c.mu.Lock()
	key, ok := c.keys[k]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = signingKey(secret, date, region, service)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[[4]string][]byte)
	}
	c.keys[k] = key
	c.mu.Unlock()
	return key
}
