package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"procfin/platform/errs"
)

// PasswordParams is the cost of an argon2id password hash.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultPasswordParams is OWASP's minimum argon2id configuration
// (19 MiB, 2 passes, 1 lane).
var DefaultPasswordParams = PasswordParams{Memory: 19456, Time: 2, Threads: 1}

// Password length limits, in bytes.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

const (
	saltLen = 16
	hashLen = 32

	// Bounds on parameters read back from a stored hash, so a corrupt or
	// hostile row cannot make verification allocate or spin without limit.
	maxMemoryKiB = 1 << 21 // 2 GiB
	maxTime      = 64
)

var errBadHash = errors.New("not an argon2id PHC string")

func (p PasswordParams) withDefaults() PasswordParams {
	if p.Memory == 0 {
		p.Memory = DefaultPasswordParams.Memory
	}
	if p.Time == 0 {
		p.Time = DefaultPasswordParams.Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultPasswordParams.Threads
	}
	return p
}

func (p PasswordParams) validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("threads must be at least 1")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time must be in 1..%d", maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("memory must be in %d..%d KiB", 8*uint32(p.Threads), maxMemoryKiB)
	}
	return nil
}

// checkPasswordLength returns the field problem with a new password's
// length, or nil.
func checkPasswordLength(password string) *errs.FieldError {
	switch {
	case len(password) < MinPasswordLen:
		return &errs.FieldError{Field: "password", Code: "too_short",
			Message: fmt.Sprintf("must be at least %d bytes", MinPasswordLen)}
	case len(password) > MaxPasswordLen:
		return &errs.FieldError{Field: "password", Code: "too_long",
			Message: fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)}
	}
	return nil
}

// HashPassword returns the argon2id hash of password in PHC string format,
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (unpadded
// standard base64), with a fresh random salt. Zero fields of p take the
// defaults. Returns invalid (field "password", code too_short or too_long)
// when the password's length is out of bounds, internal on bad parameters.
func HashPassword(password string, p PasswordParams) (string, error) {
	if fe := checkPasswordLength(password); fe != nil {
		return "", errs.InvalidFields(*fe)
	}
	return hashPassword(password, p)
}

// hashPassword hashes without the length policy (for the dummy hash).
func hashPassword(password string, p PasswordParams) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", errs.Wrap(errs.Internal, err, "internal")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", errs.Wrap(errs.Internal, err, "internal")
	}
	key := idKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a PHC string made
// by HashPassword; the cost parameters are read from encoded. The hashes are
// compared in constant time. It returns an error (internal) only when
// encoded cannot be parsed.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, errs.Wrap(errs.Internal, err, "internal")
	}
	got := idKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// argonSlots bounds the argon2id hashes computed at once. Each takes its
// memory cost (19 MiB by default) for its whole run, so a burst of logins
// would otherwise take memory in proportion to the burst; with one slot per
// CPU they queue instead, and take no longer in all, the CPUs being busy
// anyway.
var argonSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// idKey computes an argon2id hash in a slot, then collects the garbage.
// The hash's memory is garbage as soon as it returns, and procfin collects
// only when its heap has grown fivefold (cmd/procfin's tuneGC): the dead
// memory of a burst of logins would fill the heap up to the 100 MiB soft
// limit. That was procfin's peak resident set under load: 123 MB while
// the bench's setup registered and logged in its 32 users, against 77 MB
// before and 70–85 MB during the runs (docs/performance-log.md, eighth
// round).
// A collection is small beside the hash: the bench's setup (64 hashes)
// took 1.4 s with them against 1.2 s without.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	argonSlots <- struct{}{}
	key := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	<-argonSlots
	runtime.GC()
	return key
}

// parsePHC splits an argon2id PHC string into its parameters, salt and hash.
func parsePHC(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errBadHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
	}
	for i, name := range []string{"m", "t", "p"} {
		value, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(value, 10, bits)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %s: %v", errBadHash, name, err)
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			p.Threads = uint8(n)
		}
	}
	if err := p.validate(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %v", errBadHash, err)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, fmt.Errorf("%w: salt", errBadHash)
	}
	hash, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(hash) < 16 || len(hash) > 128 {
		return p, nil, nil, fmt.Errorf("%w: hash", errBadHash)
	}
	return p, salt, hash, nil
}
