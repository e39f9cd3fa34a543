package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// tokenCodec turns the service's plain list cursors into opaque,
// tamper-evident nextToken values bound to one operation and one account.
type tokenCodec struct{ key []byte }

var errBadToken = errors.New("pagination token is not valid")

func (c tokenCodec) mac(op, account, cursor string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(op))
	m.Write([]byte{0})
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write([]byte(cursor))
	return m.Sum(nil)[:16]
}

// seal returns the token for cursor.
func (c tokenCodec) seal(op, account, cursor string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(cursor)) + "." + enc.EncodeToString(c.mac(op, account, cursor))
}

// open verifies token and returns its cursor.
func (c tokenCodec) open(op, account, token string) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", errBadToken
	}
	enc := base64.RawURLEncoding.Strict()
	cursor, err := enc.DecodeString(token[:i])
	if err != nil {
		return "", errBadToken
	}
	sum, err := enc.DecodeString(token[i+1:])
	if err != nil {
		return "", errBadToken
	}
	if !hmac.Equal(sum, c.mac(op, account, string(cursor))) {
		return "", errBadToken
	}
	return string(cursor), nil
}
