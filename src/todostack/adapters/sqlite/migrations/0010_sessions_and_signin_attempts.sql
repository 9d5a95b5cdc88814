-- Sessions: what each bearer token names, so that signing out (one), a password change or
-- "sign out everywhere" (all of a user's) and `todostack user revoke` end tokens before expiry.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Sign-in throttle counters (per client address, per account), shared by every worker.
CREATE TABLE signin_attempts (
    key               TEXT PRIMARY KEY,
    count             INTEGER NOT NULL,
    window_started_at TEXT NOT NULL,
    locked_until      TEXT
) STRICT;
CREATE INDEX signin_attempts_window_idx ON signin_attempts (window_started_at);
