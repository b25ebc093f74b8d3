-- talko control plane schema. Portable between SQLite and PostgreSQL: ids are TEXT
-- (UUIDv7, time-ordered as text), times are BIGINT milliseconds since the epoch, flags are
-- BIGINT 0/1.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL,
    avatar_photo_id TEXT,
    email_verified BIGINT NOT NULL DEFAULT 0,
    discoverable BIGINT NOT NULL DEFAULT 1,
    email_hash TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX accounts_email_hash ON accounts (email_hash);

CREATE TABLE verification_codes (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_device ON tokens (device_id);

CREATE TABLE contact_peppers (
    id TEXT PRIMARY KEY,
    pepper TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE talk_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE members (
    group_id TEXT NOT NULL REFERENCES talk_groups (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX members_account ON members (account_id);

CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES talk_groups (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    invitee_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash TEXT UNIQUE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX invites_invitee ON invites (invitee_id);

CREATE TABLE photos (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_id TEXT REFERENCES talk_groups (id) ON DELETE CASCADE,
    blob TEXT NOT NULL,
    mime TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    thumbs TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE items (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES talk_groups (id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    body TEXT,
    photo_id TEXT REFERENCES photos (id),
    blob TEXT,
    duration_ms BIGINT,
    at_offset_ms BIGINT,
    call_item_id TEXT,
    tags TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    edited_at BIGINT
);
CREATE INDEX items_group ON items (group_id, id);

CREATE TABLE item_tags (
    item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
);
CREATE INDEX item_tags_group_tag ON item_tags (group_id, tag, item_id);

CREATE TABLE marks (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES talk_groups (id) ON DELETE CASCADE,
    item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    tag TEXT,
    note TEXT,
    offset_ms BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX marks_group ON marks (group_id, id);
CREATE INDEX marks_group_tag ON marks (group_id, tag);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    group_id TEXT,
    item_id TEXT,
    actor_id TEXT,
    subject TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_account ON notifications (account_id, id);

CREATE TABLE idempotency (
    account_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    route TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, idem_key, route)
);
