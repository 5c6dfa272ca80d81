-- mod_meeting schema: accounts, meetings, participants, chat, recordings.
-- Idempotent: every statement may run again on a database that already has it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS users (
    user_id       bigserial PRIMARY KEY,
    username      text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    nickname      text        NOT NULL DEFAULT '',
    avatar_url    text        NOT NULL DEFAULT '',
    status        text        NOT NULL DEFAULT 'active',
    -- Bumped by logout: an access token carries the generation it was issued
    -- under and stops working once the generation moves on.
    token_gen     integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    updated_at    timestamptz NOT NULL DEFAULT date_trunc('second', now())
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));

-- Refresh tokens are stored as SHA-256 of their jti. A family is the chain
-- of rotations that started at one log-in; reuse of a rotated token revokes it.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti_hash   bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    family     text        NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated    boolean     NOT NULL DEFAULT false,
    revoked    boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE IF NOT EXISTS meetings (
    meeting_id          bigserial PRIMARY KEY,
    title               text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    start_time          timestamptz NOT NULL,
    end_time            timestamptz NOT NULL,
    max_participants    integer     NOT NULL CHECK (max_participants BETWEEN 1 AND 1000),
    meeting_type        text        NOT NULL CHECK (meeting_type IN ('video', 'audio')),
    password_hash       text,
    status              text        NOT NULL DEFAULT 'scheduled'
                        CHECK (status IN ('scheduled', 'ongoing', 'ended', 'cancelled')),
    creator_id          bigint      NOT NULL REFERENCES users,
    enable_recording    boolean     NOT NULL DEFAULT false,
    enable_chat         boolean     NOT NULL DEFAULT true,
    enable_screen_share boolean     NOT NULL DEFAULT true,
    enable_waiting_room boolean     NOT NULL DEFAULT false,
    mute_on_join        boolean     NOT NULL DEFAULT false,
    -- Kept by the message insert so a chat page need not count a million rows.
    message_count       bigint      NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    updated_at          timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    CHECK (end_time > start_time)
);
CREATE INDEX IF NOT EXISTS meetings_order ON meetings (start_time DESC, meeting_id DESC);
-- mm_may_start counts a creator's ongoing meetings (MeetingMaxOngoingMeetings).
CREATE INDEX IF NOT EXISTS meetings_creator_ongoing ON meetings (creator_id)
    WHERE status = 'ongoing';
CREATE INDEX IF NOT EXISTS meetings_title_trgm ON meetings USING gin (lower(title) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS meetings_description_trgm
    ON meetings USING gin (lower(description) gin_trgm_ops);

-- A participant row is a membership. removed_at remembers a removal (the user
-- may not join again until re-added). Online is a lease: online while
-- lease_until lies in the future; nothing has to run to take a seat back.
CREATE TABLE IF NOT EXISTS participants (
    participant_id bigserial PRIMARY KEY,
    meeting_id     bigint      NOT NULL REFERENCES meetings ON DELETE CASCADE,
    user_id        bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    role           text        NOT NULL DEFAULT 'participant'
                   CHECK (role IN ('host', 'moderator', 'participant')),
    removed_at     timestamptz,
    lease_until    timestamptz,
    joined_at      timestamptz,
    left_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    UNIQUE (meeting_id, user_id)
);
-- The waiting room (SPEC.md 6): a user who must wait for a host's admission
-- has a row (hence a participant_id) with waiting_since set, and is not a
-- member until it is cleared. A member row, whatever its history, never
-- waits again: admitted, added, or there before the waiting room was on.
ALTER TABLE participants ADD COLUMN IF NOT EXISTS waiting_since timestamptz;
-- A user's meetings (the meeting list): removed_at and waiting_since ride
-- along so that the list reads memberships from the index alone, not from a
-- heap page each. participants_user, then participants_member, were the same
-- index with less, each dropped only once its successor is there (the list
-- and a user's delete always have one).
CREATE INDEX IF NOT EXISTS participants_membership ON participants (user_id, meeting_id)
    INCLUDE (removed_at, waiting_since);
DROP INDEX IF EXISTS participants_user;
DROP INDEX IF EXISTS participants_member;
CREATE INDEX IF NOT EXISTS participants_waiting ON participants (meeting_id, waiting_since)
    WHERE waiting_since IS NOT NULL;
CREATE INDEX IF NOT EXISTS participants_lease ON participants (meeting_id, lease_until)
    WHERE removed_at IS NULL;

CREATE TABLE IF NOT EXISTS messages (
    message_id bigserial   PRIMARY KEY,
    meeting_id bigint      NOT NULL REFERENCES meetings ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    content    text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT date_trunc('second', now())
);
CREATE INDEX IF NOT EXISTS messages_page
    ON messages (meeting_id, created_at DESC, message_id DESC);

-- A meeting's chat messages are meetings.message_count plus the sum of its
-- rows here: each send adds 1 to the row of its database session's stripe,
-- so that concurrent sends to one meeting do not queue on one row lock (the
-- meeting's) as an UPDATE of message_count did.
CREATE TABLE IF NOT EXISTS message_counts (
    meeting_id bigint   NOT NULL REFERENCES meetings ON DELETE CASCADE,
    stripe     smallint NOT NULL,
    n          bigint   NOT NULL,
    PRIMARY KEY (meeting_id, stripe)
);

CREATE TABLE IF NOT EXISTS recordings (
    recording_id text        PRIMARY KEY,
    meeting_id   bigint      NOT NULL REFERENCES meetings ON DELETE CASCADE,
    started_by   bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    status       text        NOT NULL DEFAULT 'recording'
                 CHECK (status IN ('recording', 'processing', 'completed', 'failed')),
    created_at   timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    stopped_at   timestamptz,
    duration     integer     NOT NULL DEFAULT 0,
    size         bigint      NOT NULL DEFAULT 0,
    content_type text
);
CREATE INDEX IF NOT EXISTS recordings_meeting ON recordings (meeting_id, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS recordings_one_active
    ON recordings (meeting_id) WHERE status = 'recording';

-- Server-side recording (SPEC 7): 'server' recordings are written by the SFU
-- into raw_dir and turned into one file by the recording worker; 'upload'
-- ones are stored by the client (PUT .../file) as before. reason says why a
-- recording failed.
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'upload';
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS raw_dir text;
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS keep_raw boolean NOT NULL DEFAULT false;
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS reason text;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'recordings_status_check'
                     AND pg_get_constraintdef(oid) LIKE '%failed%') THEN
        ALTER TABLE recordings DROP CONSTRAINT IF EXISTS recordings_status_check;
        ALTER TABLE recordings ADD CONSTRAINT recordings_status_check
            CHECK (status IN ('recording', 'processing', 'completed', 'failed'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'recordings_source_check') THEN
        ALTER TABLE recordings ADD CONSTRAINT recordings_source_check
            CHECK (source IN ('upload', 'server'));
    END IF;
END
$$;

-- The post-processing of a stopped server recording: one row per recording,
-- claimed by a worker with FOR UPDATE SKIP LOCKED and held by a lease the
-- worker renews; a lease that runs out (the worker died) lets another claim
-- it. attempts counts claims; run_after is the back-off.
CREATE TABLE IF NOT EXISTS recording_jobs (
    recording_id text        PRIMARY KEY REFERENCES recordings ON DELETE CASCADE,
    state        text        NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    run_after    timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    worker       text,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS recording_jobs_due
    ON recording_jobs (run_after) WHERE state IN ('queued', 'running');

-- Webhooks (SPEC.md 8). An endpoint of a user; the secret signs what is sent
-- to it, and after a rotation the previous one signs beside it until
-- old_secret_until.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS webhooks (
    webhook_id       bigserial PRIMARY KEY,
    owner_id         bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    url              text        NOT NULL,
    events           text[]      NOT NULL,
    description      text        NOT NULL DEFAULT '',
    enabled          boolean     NOT NULL DEFAULT true,
    secret           text        NOT NULL,
    old_secret       text,
    old_secret_until timestamptz,
    created_at       timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    updated_at       timestamptz NOT NULL DEFAULT date_trunc('second', now())
);
CREATE INDEX IF NOT EXISTS webhooks_owner ON webhooks (owner_id, webhook_id);

-- The outbox: an event is written in the transaction of the change it tells
-- of. meeting_id has no foreign key: the event outlives a deleted meeting.
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id   bigserial   PRIMARY KEY,
    meeting_id bigint,
    type       text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT date_trunc('second', now())
);

-- The last seq given to each (webhook, meeting): its row lock orders the
-- events of one meeting for one webhook in commit order.
CREATE TABLE IF NOT EXISTS webhook_streams (
    webhook_id bigint NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    meeting_id bigint NOT NULL,
    last_seq   bigint NOT NULL,
    PRIMARY KEY (webhook_id, meeting_id)
);

-- One delivery per (event, subscribed webhook); body is fixed when written,
-- so every attempt sends the same bytes under the same message_id.
-- final_attempt: a manual retry allows one attempt more (NULL: the
-- deliverer's retry schedule decides).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id      bigserial   PRIMARY KEY,
    webhook_id       bigint      NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    event_id         bigint      NOT NULL REFERENCES webhook_events ON DELETE CASCADE,
    message_id       text        NOT NULL,
    meeting_id       bigint,
    type             text        NOT NULL,
    seq              bigint      NOT NULL,
    body             text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    final_attempt    integer,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_status_code integer,
    last_response    text,
    created_at       timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_stream
    ON webhook_deliveries (webhook_id, meeting_id, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON webhook_deliveries (webhook_id, delivery_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_done ON webhook_deliveries (finished_at)
    WHERE status <> 'pending';
-- Idempotency keys (SPEC.md 9): the answer a POST with an Idempotency-Key
-- gave, written in the transaction of the change it made, replayed to a
-- retry for 24 hours. Expired rows are deleted by later keyed requests, a
-- few at a time (mm_idem_claim), through idempotency_keys_age.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id     bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    key         text        NOT NULL,
    method      text        NOT NULL,
    path        text        NOT NULL,
    body_sha256 text        NOT NULL,
    status      integer     NOT NULL,
    response    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
-- More than one node (SPEC.md 10): each signald heart-beats its row here
-- (sql/005_nodes.sql). A node is live while seen_at + dead_after is in the
-- future; draining nodes get no new meetings. A meeting's signaling lives on
-- node_id; node_epoch grows with every placement, so a placement made on a
-- stale reading loses (compare-and-set on the epoch) and two nodes never both
-- own a meeting.
CREATE TABLE IF NOT EXISTS nodes (
    node_id       text        PRIMARY KEY CHECK (node_id ~ '^[A-Za-z0-9._-]{1,63}$'),
    signaling_url text,
    load          integer     NOT NULL DEFAULT 0,
    dead_after    interval    NOT NULL DEFAULT '10 seconds',
    seen_at       timestamptz NOT NULL DEFAULT now(),
    draining      boolean     NOT NULL DEFAULT false
);
ALTER TABLE meetings ADD COLUMN IF NOT EXISTS node_id text;
ALTER TABLE meetings ADD COLUMN IF NOT EXISTS node_epoch bigint NOT NULL DEFAULT 0;
