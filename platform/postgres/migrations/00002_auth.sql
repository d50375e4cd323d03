-- +goose Up
-- Accounts and the platform's own signing keys (package platform/auth).

-- Usernames are stored lower-cased (the pattern admits no capitals), so the
-- unique constraint is case-insensitive. A supplier account belongs to
-- exactly one supplier, named by its USCC (统一社会信用代码); officers and
-- administrators belong to none.
CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL,
    supplier_uscc text        NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz NULL,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    CONSTRAINT users_role_known CHECK (role IN ('supplier', 'officer', 'admin')),
    CONSTRAINT users_supplier_uscc_format CHECK (supplier_uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    CONSTRAINT users_supplier_has_uscc CHECK ((role = 'supplier') = (supplier_uscc IS NOT NULL))
);

-- The platform's signing keys. The private key is encrypted with the master
-- key (AES-256-GCM, nonce prepended, additional data = kid). A key signs from
-- not_before on, until a newer key's not_before; it stays published in the
-- JWKS until retire_after, when everything it signed has expired.
CREATE TABLE signing_keys (
    kid             text        PRIMARY KEY,
    alg             text        NOT NULL,
    public_key      bytea       NOT NULL,
    private_key_enc bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    not_before      timestamptz NOT NULL,
    retire_after    timestamptz NULL,
    CONSTRAINT signing_keys_alg_known CHECK (alg IN ('EdDSA')),
    CONSTRAINT signing_keys_retire_after_start CHECK (retire_after IS NULL OR retire_after > not_before)
);

CREATE INDEX signing_keys_not_before_idx ON signing_keys (not_before DESC);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE users;
