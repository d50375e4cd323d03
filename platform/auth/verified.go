package auth

import (
	"sync"
	"time"
)

// verifiedTokens remembers tokens whose signature and claims were checked,
// so that a client's next request with the same token skips the Ed25519
// verification (about a fifth of a read's CPU). An entry holds the token
// in full, so only the very same bytes hit; it lasts until the token
// expires or verifiedTTL passes, whichever is first, and a hit still
// requires the signing key to be published. At most maxVerified tokens
// are kept: when full, expired entries go, and if none has expired the
// cache starts over.
type verifiedTokens struct {
	mu      sync.Mutex
	entries map[string]verifiedToken
}

type verifiedToken struct {
	p     Principal
	kid   string
	gen   int64
	until time.Time
	// The user's state was checked at epoch (userStates.epoch): while no
	// user changes, and until checkedUntil, it needs no check again.
	epoch        uint64
	checkedUntil time.Time
}

const (
	verifiedTTL = time.Minute
	maxVerified = 10000
)

func (v *verifiedTokens) get(token string, now time.Time) (verifiedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[token]
	if !ok || !now.Before(e.until) {
		return verifiedToken{}, false
	}
	return e, true
}

func (v *verifiedTokens) put(token string, e verifiedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = make(map[string]verifiedToken)
	}
	if len(v.entries) >= maxVerified {
		for k, old := range v.entries {
			if !now.Before(old.until) {
				delete(v.entries, k)
			}
		}
		if len(v.entries) >= maxVerified {
			v.entries = make(map[string]verifiedToken)
		}
	}
	v.entries[token] = e
}
