// Package keystore is goldsmith's local stand-in for KMS: one AES-256 key
// per key ID, kept as a file under a directory, used with AES-GCM.
package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Dir keeps keys as files named by a digest of the key ID. A key that does
// not exist yet is created on first use (mode 0600).
type Dir struct {
	path string
	mu   sync.Mutex // serializes key creation
}

// Open returns the key store rooted at path, creating the directory.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &Dir{path: path}, nil
}

func (d *Dir) file(keyID string) string {
	sum := sha256.Sum256([]byte(keyID))
	return filepath.Join(d.path, hex.EncodeToString(sum[:16])+".key")
}

func (d *Dir) key(keyID string) (cipher.AEAD, error) {
	if keyID == "" {
		return nil, errors.New("key ID is empty")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.file(keyID)
	raw, err := os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		raw = make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("keystore: generating key: %w", err)
		}
		tmp := f + ".tmp"
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		if err := os.Rename(tmp, f); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("keystore: key file %s is damaged (%d bytes)", f, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return cipher.NewGCM(block)
}

// Encrypt seals plaintext under the key; aad is authenticated, not stored.
func (d *Dir) Encrypt(_ context.Context, keyID string, plaintext, aad []byte) ([]byte, error) {
	g, err := d.key(keyID)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keystore: nonce: %w", err)
	}
	return g.Seal(nonce, nonce, plaintext, aad), nil
}

// Decrypt opens ciphertext sealed by Encrypt with the same key and aad.
func (d *Dir) Decrypt(_ context.Context, keyID string, ciphertext, aad []byte) ([]byte, error) {
	g, err := d.key(keyID)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < g.NonceSize() {
		return nil, errors.New("keystore: ciphertext too short")
	}
	n := g.NonceSize()
	pt, err := g.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("keystore: decrypting with key %q: %w", keyID, err)
	}
	return pt, nil
}
