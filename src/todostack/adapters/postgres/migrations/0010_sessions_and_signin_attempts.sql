-- Sessions: what each bearer token names, so that signing out (one), a password change or
-- "sign out everywhere" (all of a user's) and `todostack user revoke` end tokens before expiry.
CREATE TABLE sessions (
    id         text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Sign-in throttle counters (per client address, per account), shared by every worker and pod.
CREATE TABLE signin_attempts (
    key               text PRIMARY KEY,
    count             integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    locked_until      timestamptz
);
CREATE INDEX signin_attempts_window_idx ON signin_attempts (window_started_at);
