package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const masterKeySize = 32

// MasterKeyFile is the name of the master key file in the data directory.
const MasterKeyFile = "master.key"

// LoadOrCreateMasterKey returns the 32-byte master key that encrypts the
// signing keys. When envValue is not empty it is the key, in standard or
// unpadded URL-safe base64. Otherwise the key is read from
// <dataDir>/master.key (base64); when that file does not exist it is
// created, mode 0600, holding 32 new random bytes. Losing the key loses the
// signing keys (new ones can be made; tokens they signed stop verifying).
func LoadOrCreateMasterKey(envValue, dataDir string) ([]byte, error) {
	if envValue != "" {
		key, err := decodeMasterKey(envValue)
		if err != nil {
			return nil, fmt.Errorf("master key from environment: %w", err)
		}
		return key, nil
	}
	if dataDir == "" {
		return nil, errors.New("master key: neither a key nor a data directory given")
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	key, err := readMasterKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createMasterKey(dataDir, path); err != nil {
		return nil, err
	}
	return readMasterKey(path)
}

func readMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("not base64 (standard or unpadded URL-safe)")
	}
	if len(key) != masterKeySize {
		return nil, fmt.Errorf("must be %d bytes, got %d", masterKeySize, len(key))
	}
	return key, nil
}

// createMasterKey writes a new key to a temporary file and links it into
// place, so a concurrent reader never sees a partial file and a concurrent
// creator's key is never overwritten (the loser reads the winner's key).
func createMasterKey(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	key := make([]byte, masterKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".master.key-*")
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; be explicit about it.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("master key: %w", err)
	}
	return nil
}

// sealPrivateKey encrypts a private key under the master key with
// AES-256-GCM: the random nonce is prepended, and kid is the additional
// data, so a ciphertext moved to another row does not decrypt.
func sealPrivateKey(masterKey, plaintext []byte, kid string) ([]byte, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(kid)), nil
}

// openPrivateKey reverses sealPrivateKey.
func openPrivateKey(masterKey, sealed []byte, kid string) ([]byte, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed private key too short")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("decrypt private key %s (wrong master key?): %w", kid, err)
	}
	return plain, nil
}

func newAEAD(masterKey []byte) (cipher.AEAD, error) {
	if len(masterKey) != masterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes", masterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
