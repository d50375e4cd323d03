package auth

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/postgres"
)

// Revocation. Every user row has a token generation; every access token
// carries the generation of its user when it was issued (claim "gen"), and
// so does every web session. Disabling a user or changing their password
// adds one to it, so that everything issued before stops working at once.
//
// VerifyToken compares a token's generation with its user's on every
// request. The user's generation and state come from a per-process cache
// (userStates), so the hot path costs a map lookup, not a database round
// trip; a remembered token (verifiedTokens) also remembers the cache's
// epoch when its user was checked, and while no user has changed since, it
// needs not even that. The cache is trusted only while the process
// listens on the database's procfin_users channel (Watch): a trigger on
// users notifies every change of a user row, whoever makes it, and each
// process forgets that user. While the process does not listen (Watch not running, or its
// connection lost), every check reads the database. An entry also expires
// after userStateTTL, a safety net.

// usersChannel is the channel the users table's trigger notifies (migration
// 00022), with the user's id as payload.
const usersChannel = "procfin_users"

const (
	userStateTTL = 10 * time.Second
	maxUserState = 10000
)

// userState is what a token check needs to know of a user.
type userState struct {
	gen      int64
	disabled bool
	missing  bool
	until    time.Time
}

// active reports whether a token or session of generation gen still speaks
// for the user.
func (u userState) active(gen int64) bool {
	return !u.missing && !u.disabled && u.gen == gen
}

type userStates struct {
	mu      sync.RWMutex
	entries map[string]userState
	// epoch changes whenever an entry is forgotten, so that a read of the
	// database that began before the change does not store what it read.
	epoch atomic.Uint64
	// trusted is set while the process listens to the users' channel.
	trusted atomic.Bool
}

func (c *userStates) get(id string, now time.Time) (userState, bool) {
	if !c.trusted.Load() {
		return userState{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return userState{}, false
	}
	return e, true
}

func (c *userStates) put(id string, e userState, epoch uint64) {
	if !c.trusted.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if c.entries == nil || len(c.entries) >= maxUserState {
		c.entries = make(map[string]userState)
	}
	c.entries[id] = e
}

// unchangedSince reports whether no user was forgotten since epoch, while
// the cache was trusted all along: a token whose user was checked at epoch
// needs no check again.
func (c *userStates) unchangedSince(epoch uint64) bool {
	return c.trusted.Load() && c.epoch.Load() == epoch
}

// forget drops what is remembered of a user.
func (c *userStates) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	delete(c.entries, id)
}

// reset forgets everything and says whether the cache may be trusted from
// now on.
func (c *userStates) reset(trusted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.entries = nil
	c.trusted.Store(trusted)
}

const userStateSQL = `SELECT token_generation, disabled_at IS NOT NULL AS disabled FROM users WHERE id = $1`

// userState returns the user's generation and whether they are disabled,
// from the cache or the database.
func (s *Service) userState(ctx context.Context, id string) (userState, error) {
	now := time.Now() // the safety net's clock, not the tokens'

	if e, ok := s.states.get(id, now); ok {
		return e, nil
	}
	epoch := s.states.epoch.Load()
	var row struct {
		Gen      int64 `db:"token_generation"`
		Disabled bool  `db:"disabled"`
	}
	e := userState{until: now.Add(userStateTTL)}
	if _, ok := ids.Canonical(id); !ok {
		e.missing = true
	} else if err := s.db.GetContext(ctx, &row, userStateSQL, id); errors.Is(err, sql.ErrNoRows) {
		e.missing = true
	} else if err != nil {
		return userState{}, postgres.Translate(err)
	} else {
		e.gen, e.disabled = row.Gen, row.Disabled
	}
	s.states.put(id, e, epoch)
	return e, nil
}

// Watch listens for changes to users made by any procfin process on the
// database (the users table's trigger), so that the per-process cache of
// users' states can be trusted, until ctx ends. The database pool must come
// from postgres.Open. Without Watch running, every token check reads the
// user's row.
func (s *Service) Watch(ctx context.Context) error {
	defer s.states.reset(false)
	return postgres.Listen(ctx, s.db, usersChannel, postgres.ListenHandler{
		Ready:  func() { s.states.reset(true) },
		Lost:   func(error) { s.states.reset(false) },
		Notify: s.states.forget,
	})
}

// Watching reports whether the users' cache is trusted (Watch listens).
func (s *Service) Watching() bool { return s.states.trusted.Load() }

// revokeSQL adds one to the user's token generation; $2 true also disables
// the user, $3 not empty sets a new password hash. It returns the row as
// it was before, for the audit trail and the checks.
const revokeSQL = `
UPDATE users u SET token_generation = u.token_generation + 1,
       disabled_at = CASE WHEN $2 THEN COALESCE(u.disabled_at, $4) ELSE u.disabled_at END,
       password_hash = CASE WHEN $3 <> '' THEN $3 ELSE u.password_hash END
FROM (SELECT id, disabled_at FROM users WHERE id = $1 FOR UPDATE) old
WHERE u.id = old.id
RETURNING u.id, u.username, u.role, COALESCE(u.supplier_uscc, '') AS supplier_uscc, u.created_at,
          u.disabled_at, u.token_generation, old.disabled_at AS was_disabled_at`

type revokedRow struct {
	User
	WasDisabledAt sql.NullTime `db:"was_disabled_at"`
}

// DisableUser disables the user with the id: from the commit on, their
// access tokens and web sessions are refused, they cannot log in, and
// their approvals still waiting for a second officer no longer count
// (ActiveUsers). Disabling is final: there is no way back through procfin
// (an administrator creates a new account instead), so a disabled
// account's past actions in the audit trail stay its own. actorID is the
// administrator's user id ("" for the command line).
//
// Returns not_found (no such user); conflict when the administrator
// disables themselves, or the user is already disabled; or the user as it
// is now.
func (s *Service) DisableUser(ctx context.Context, id, actorID string) (User, error) {
	uid, ok := ids.Parse(id)
	if !ok {
		return User{}, errs.E(errs.NotFound, "user not found")
	}
	if actorID != "" && actorID == uid.String() {
		return User{}, errs.E(errs.Conflict, "you cannot disable yourself: another administrator must do it")
	}
	actor := "cli"
	if actorID != "" {
		actor = "user:" + actorID
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var u User
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		var row revokedRow
		err := tx.GetContext(ctx, &row, revokeSQL, uid.String(), true, "", now)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "user not found")
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if row.WasDisabledAt.Valid {
			// Roll back: the generation stays, nothing is recorded.
			return errs.E(errs.Conflict, "user %s is already disabled", row.Username)
		}
		u = row.User
		before := u
		before.DisabledAt, before.TokenGeneration = nil, u.TokenGeneration-1
		s.forgetAfterCommit(tx, u.ID)
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "user.disabled", EntityType: "user",
			EntityID: u.ID, Before: before, After: u})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// UserByName returns the user with the username (case-insensitive),
// disabled or not. Returns not_found.
func (s *Service) UserByName(ctx context.Context, username string) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users WHERE username = $1`, normalizeUsername(username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errs.E(errs.NotFound, "user %q not found", username)
	}
	return u, postgres.Translate(err)
}

// ChangePassword sets the user's password and revokes every access token
// and web session they had, in one transaction; actor is who does it.
// Returns invalid (field password) for an unacceptable password, not_found,
// conflict for a disabled user.
func (s *Service) ChangePassword(ctx context.Context, id, password, actor string) error {
	if fe := checkPasswordLength(password); fe != nil {
		return errs.InvalidFields(*fe)
	}
	uid, ok := ids.Parse(id)
	if !ok {
		return errs.E(errs.NotFound, "user not found")
	}
	hash, err := hashPassword(password, s.cfg.Password)
	if err != nil {
		return err
	}
	return postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		var row revokedRow
		err := tx.GetContext(ctx, &row, revokeSQL, uid.String(), false, hash, s.now().UTC())
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "user not found")
		}
		if err != nil {
			return postgres.Translate(err)
		}
		if row.WasDisabledAt.Valid {
			return errs.E(errs.Conflict, "user %s is disabled", row.Username)
		}
		s.forgetAfterCommit(tx, row.ID)
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "user.password_changed", EntityType: "user",
			EntityID: row.ID, After: map[string]any{"token_generation": row.TokenGeneration}})
	})
}

// forgetAfterCommit makes this process forget the user as soon as tx
// commits, without waiting for the notification.
func (s *Service) forgetAfterCommit(tx *postgres.Tx, id string) {
	tx.AfterCommit(func() { s.states.forget(id) })
}

// DisabledUsers returns which of the ids (user ids as the audit trail names
// them, "user:<id>", or bare) name disabled users, read in q (in a
// transaction: as of its snapshot). Ids that name no user are left out.
func DisabledUsers(ctx context.Context, q sqlx.QueryerContext, userIDs []string) (map[string]bool, error) {
	byUUID := map[string][]string{}
	var uuids []string
	for _, id := range userIDs {
		if u, ok := ids.Parse(trimUserPrefix(id)); ok {
			uuids = append(uuids, u.String())
			byUUID[u.String()] = append(byUUID[u.String()], id)
		}
	}
	out := map[string]bool{}
	if len(uuids) == 0 {
		return out, nil
	}
	var found []string
	err := sqlx.SelectContext(ctx, q, &found,
		`SELECT id FROM users WHERE id = ANY($1::uuid[]) AND disabled_at IS NOT NULL`, pq.Array(uuids))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	for _, f := range found {
		for _, id := range byUUID[f] {
			out[id] = true
		}
	}
	return out, nil
}

func trimUserPrefix(id string) string {
	if len(id) > 5 && id[:5] == "user:" {
		return id[5:]
	}
	return id
}
