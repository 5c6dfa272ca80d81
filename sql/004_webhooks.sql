-- Webhooks (SPEC.md 8): the outbox's writer, the API's actions and the
-- deliverer's claim and outcome. After 003: the actions use its helpers
-- (mm_ok, mm_fail, mm_ts, mm_token_revoked).

------------------------------------------------------------------------------
-- The outbox

-- The event types a webhook may subscribe to.
CREATE OR REPLACE FUNCTION mm_webhook_types() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['meeting.started', 'meeting.ended', 'participant.joined',
                 'participant.left', 'participant.removed', 'participant.waiting',
                 'recording.started', 'recording.completed', 'recording.failed',
                 'chat.message']
$$;

CREATE OR REPLACE FUNCTION mm_webhook_body(p_id text, p_type text, p_at timestamptz,
                                           p_meeting bigint, p_seq bigint, p_data jsonb)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_meeting IS NULL
        THEN json_build_object('id', p_id, 'type', p_type, 'created_at', mm_ts(p_at),
                               'seq', p_seq, 'data', p_data)
        ELSE json_build_object('id', p_id, 'type', p_type, 'created_at', mm_ts(p_at),
                               'meeting_id', p_meeting, 'seq', p_seq, 'data', p_data)
    END::text
$$;

CREATE OR REPLACE FUNCTION mm_webhook_message_id() RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT 'evt_' || encode(gen_random_bytes(12), 'hex') $$;

-- Writes the event p_type of meeting p_meeting, with one delivery for each
-- enabled webhook of the meeting's creator that subscribes to it, each with
-- the next seq of its (webhook, meeting). Call it in the transaction of the
-- change it tells of: it commits, or vanishes, with that change. Writes
-- nothing when nobody listens.
CREATE OR REPLACE FUNCTION mm_webhook_emit(p_meeting bigint, p_type text, p_data jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    w record;
    ev webhook_events;
    s bigint;
    id text;
BEGIN
    FOR w IN SELECT h.webhook_id FROM meetings m JOIN webhooks h ON h.owner_id = m.creator_id
              WHERE m.meeting_id = p_meeting AND h.enabled AND p_type = ANY (h.events)
              ORDER BY h.webhook_id
    LOOP
        IF ev.event_id IS NULL THEN
            INSERT INTO webhook_events (meeting_id, type, data)
            VALUES (p_meeting, p_type, coalesce(p_data, '{}'::jsonb)) RETURNING * INTO ev;
        END IF;
        INSERT INTO webhook_streams AS st (webhook_id, meeting_id, last_seq)
        VALUES (w.webhook_id, p_meeting, 1)
        ON CONFLICT (webhook_id, meeting_id) DO UPDATE SET last_seq = st.last_seq + 1
        RETURNING last_seq INTO s;
        id := mm_webhook_message_id();
        INSERT INTO webhook_deliveries (webhook_id, event_id, message_id, meeting_id, type, seq,
                                        body)
        VALUES (w.webhook_id, ev.event_id, id, p_meeting, p_type, s,
                mm_webhook_body(id, p_type, ev.created_at, p_meeting, s, ev.data));
    END LOOP;
END
$$;

-- A user came online in a meeting (p: their participant row as it was
-- before). A seat whose lease ran out unnoticed is told of as left first, so
-- that a receiver never sees two joins in a row.
CREATE OR REPLACE FUNCTION mm_webhook_online(p participants) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p.lease_until IS NOT NULL AND p.lease_until <= now() AND p.left_at IS NULL THEN
        PERFORM mm_webhook_emit(p.meeting_id, 'participant.left',
                                jsonb_build_object('user_id', p.user_id));
    END IF;
    PERFORM mm_webhook_emit(p.meeting_id, 'participant.joined', jsonb_build_object(
        'user_id', p.user_id,
        'username', (SELECT username FROM users WHERE user_id = p.user_id),
        'participant_id', p.participant_id));
END
$$;

-- Seats of ongoing meetings (of p_meeting, or of all when NULL) whose lease
-- ran out without a leave: participant.left for each, and left_at set (the
-- lease itself is left alone, so a live socket's late renewal still holds).
-- Rows another transaction holds are skipped, not waited for (the sweep and
-- a meeting's end never wait on each other's rows; what one skips, the
-- other tells of).
CREATE OR REPLACE FUNCTION mm_webhook_lapsed(p_meeting bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN UPDATE participants p SET left_at = date_trunc('second', p.lease_until)
              WHERE p.participant_id IN (
                    SELECT l.participant_id FROM participants l
                      JOIN meetings m ON m.meeting_id = l.meeting_id AND m.status = 'ongoing'
                     WHERE (p_meeting IS NULL OR l.meeting_id = p_meeting)
                       AND l.left_at IS NULL AND l.lease_until IS NOT NULL
                       AND l.removed_at IS NULL AND l.lease_until <= now()
                       FOR UPDATE OF l SKIP LOCKED)
          RETURNING p.meeting_id, p.user_id
    LOOP
        PERFORM mm_webhook_emit(r.meeting_id, 'participant.left',
                                jsonb_build_object('user_id', r.user_id));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

------------------------------------------------------------------------------
-- The API

CREATE OR REPLACE FUNCTION mm_webhook_json(w webhooks) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('webhook_id', w.webhook_id, 'url', w.url, 'events', w.events,
                             'description', w.description, 'enabled', w.enabled,
                             'created_at', mm_ts(w.created_at))
$$;

-- The same with the secret: the replies to create and rotate only.
CREATE OR REPLACE FUNCTION mm_webhook_json_secret(w webhooks) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT (mm_webhook_json(w)::jsonb || jsonb_build_object('secret', w.secret))::json
$$;

CREATE OR REPLACE FUNCTION mm_webhook_secret() RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT 'whsec_' || encode(gen_random_bytes(32), 'base64') $$;

CREATE OR REPLACE FUNCTION mm_webhook_missing() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$ SELECT mm_fail(404, 'not_found', 'webhook not found') $$;

-- p_events: already checked by the module against mm_webhook_types().
CREATE OR REPLACE FUNCTION mm_webhook_create(p_user bigint, p_gen bigint, p_url text,
                                             p_events text[], p_description text,
                                             p_max integer)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    -- Serialises one user's creates, so the cap holds under concurrency.
    PERFORM 1 FROM users WHERE user_id = p_user FOR NO KEY UPDATE;
    IF (SELECT count(*) FROM webhooks WHERE owner_id = p_user) >= p_max THEN
        RETURN mm_fail(409, 'conflict', 'you have the most webhooks allowed; delete one first');
    END IF;
    INSERT INTO webhooks (owner_id, url, events, description, secret)
    VALUES (p_user, p_url, p_events, coalesce(p_description, ''), mm_webhook_secret())
    RETURNING * INTO w;
    RETURN mm_ok(201, mm_webhook_json_secret(w));
END
$$;

CREATE OR REPLACE FUNCTION mm_webhook_list(p_user bigint, p_gen bigint) RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    RETURN mm_ok(200, json_build_object('webhooks', coalesce(
        (SELECT json_agg(mm_webhook_json(w) ORDER BY w.webhook_id)
           FROM webhooks w WHERE w.owner_id = p_user), '[]'::json)));
END
$$;

-- The caller's webhook p_id, locked when p_lock (NULL when not theirs).
CREATE OR REPLACE FUNCTION mm_webhook_mine(p_user bigint, p_id bigint, p_lock boolean)
RETURNS webhooks
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    IF p_lock THEN
        SELECT * INTO w FROM webhooks WHERE webhook_id = p_id AND owner_id = p_user FOR UPDATE;
    ELSE
        SELECT * INTO w FROM webhooks WHERE webhook_id = p_id AND owner_id = p_user;
    END IF;
    RETURN w;
END
$$;

CREATE OR REPLACE FUNCTION mm_webhook_get(p_user bigint, p_gen bigint, p_id bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    w := mm_webhook_mine(p_user, p_id, false);
    IF w.webhook_id IS NULL THEN
        RETURN mm_webhook_missing();
    END IF;
    RETURN mm_ok(200, mm_webhook_json(w));
END
$$;

-- p_patch: the validated body (url, events, description, enabled).
CREATE OR REPLACE FUNCTION mm_webhook_update(p_user bigint, p_gen bigint, p_id bigint,
                                             p_patch jsonb)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    UPDATE webhooks SET
        url = coalesce(p_patch->>'url', url),
        events = CASE WHEN p_patch ? 'events'
                      THEN ARRAY(SELECT jsonb_array_elements_text(p_patch->'events'))
                      ELSE events END,
        description = coalesce(p_patch->>'description', description),
        enabled = coalesce((p_patch->>'enabled')::boolean, enabled),
        updated_at = date_trunc('second', now())
     WHERE webhook_id = p_id AND owner_id = p_user
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN mm_webhook_missing();
    END IF;
    RETURN mm_ok(200, mm_webhook_json(w));
END
$$;

CREATE OR REPLACE FUNCTION mm_webhook_delete(p_user bigint, p_gen bigint, p_id bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    DELETE FROM webhooks WHERE webhook_id = p_id AND owner_id = p_user;
    IF NOT FOUND THEN
        RETURN mm_webhook_missing();
    END IF;
    RETURN mm_ok(200);
END
$$;

-- A new secret; the one it replaces keeps signing beside it for 24 hours.
CREATE OR REPLACE FUNCTION mm_webhook_rotate(p_user bigint, p_gen bigint, p_id bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    UPDATE webhooks SET old_secret = secret, old_secret_until = now() + interval '24 hours',
           secret = mm_webhook_secret(), updated_at = date_trunc('second', now())
     WHERE webhook_id = p_id AND owner_id = p_user
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN mm_webhook_missing();
    END IF;
    RETURN mm_ok(200, json_build_object('secret', w.secret));
END
$$;

CREATE OR REPLACE FUNCTION mm_webhook_delivery_json(d webhook_deliveries) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('delivery_id', d.delivery_id, 'event_id', d.message_id,
                             'type', d.type, 'meeting_id', d.meeting_id, 'seq', d.seq,
                             'status', d.status, 'attempts', d.attempts,
                             'last_status_code', d.last_status_code,
                             'last_response', d.last_response,
                             'next_attempt_at', CASE WHEN d.status = 'pending'
                                                     THEN mm_ts(d.next_attempt_at) END,
                             'created_at', mm_ts(d.created_at))
$$;

-- The delivery log of a webhook, newest first; p_status NULL: all.
CREATE OR REPLACE FUNCTION mm_webhook_deliveries(p_user bigint, p_gen bigint, p_id bigint,
                                                 p_status text, p_page integer,
                                                 p_size integer)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    IF (mm_webhook_mine(p_user, p_id, false)).webhook_id IS NULL THEN
        RETURN mm_webhook_missing();
    END IF;
    RETURN mm_ok(200, json_build_object(
        'deliveries', coalesce((
            SELECT json_agg(mm_webhook_delivery_json(g) ORDER BY g.delivery_id DESC)
              FROM (SELECT * FROM webhook_deliveries d
                     WHERE d.webhook_id = p_id AND (p_status IS NULL OR d.status = p_status)
                     ORDER BY d.delivery_id DESC
                     LIMIT p_size OFFSET (p_page - 1)::bigint * p_size) g), '[]'::json),
        'total', (SELECT count(*) FROM webhook_deliveries d
                   WHERE d.webhook_id = p_id AND (p_status IS NULL OR d.status = p_status)),
        'page', p_page, 'page_size', p_size));
END
$$;

-- Sends a failed delivery once more, now.
CREATE OR REPLACE FUNCTION mm_webhook_retry(p_user bigint, p_gen bigint, p_id bigint,
                                            p_delivery bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    d webhook_deliveries;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    IF (mm_webhook_mine(p_user, p_id, false)).webhook_id IS NULL THEN
        RETURN mm_webhook_missing();
    END IF;
    SELECT * INTO d FROM webhook_deliveries
     WHERE delivery_id = p_delivery AND webhook_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN mm_fail(404, 'not_found', 'delivery not found');
    END IF;
    IF d.status <> 'failed' THEN
        RETURN mm_fail(409, 'conflict', 'only a failed delivery can be retried; this one is '
                                        || d.status);
    END IF;
    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),
           final_attempt = d.attempts + 1, lease_until = NULL, finished_at = NULL
     WHERE delivery_id = p_delivery;
    RETURN mm_ok(200, json_build_object('delivery_id', p_delivery));
END
$$;

-- A ping to the webhook: no meeting, seq 0.
CREATE OR REPLACE FUNCTION mm_webhook_test(p_user bigint, p_gen bigint, p_id bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    ev webhook_events;
    id text := mm_webhook_message_id();
    del bigint;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    IF (mm_webhook_mine(p_user, p_id, false)).webhook_id IS NULL THEN
        RETURN mm_webhook_missing();
    END IF;
    INSERT INTO webhook_events (meeting_id, type, data) VALUES (NULL, 'ping', '{}'::jsonb)
    RETURNING * INTO ev;
    INSERT INTO webhook_deliveries (webhook_id, event_id, message_id, meeting_id, type, seq, body)
    VALUES (p_id, ev.event_id, id, NULL, 'ping', 0,
            mm_webhook_body(id, 'ping', ev.created_at, NULL, 0, ev.data))
    RETURNING delivery_id INTO del;
    RETURN mm_ok(200, json_build_object('delivery_id', del));
END
$$;

------------------------------------------------------------------------------
-- The deliverer (signald, mod_meeting/signald/webhooks.c)

-- "v1,<base64 HMAC-SHA256>" of "<id>.<ts>.<body>" with a whsec_ secret.
CREATE OR REPLACE FUNCTION mm_webhook_sign(p_secret text, p_id text, p_ts bigint,
                                           p_body text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'v1,' || encode(hmac(convert_to(p_id || '.' || p_ts || '.' || p_body, 'UTF8'),
                                decode(substr(p_secret, 7), 'base64'), 'sha256'), 'base64')
$$;

-- Claims up to p_limit due deliveries for p_lease seconds (an attempt each),
-- signed now. Due: pending, its time come, not leased, its webhook enabled,
-- and the first pending one of its (webhook, meeting). A webhook gets no more
-- than p_per_webhook in flight, so that a slow endpoint holds only its own.
-- Rows another deliverer is claiming are skipped, not waited for.
CREATE OR REPLACE FUNCTION mm_webhook_claim(p_lease integer, p_limit integer,
                                            p_per_webhook integer)
RETURNS TABLE (delivery_id bigint, attempt integer, url text, message_id text, ts bigint,
               body text, signature text)
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    now_s bigint := floor(extract(epoch FROM clock_timestamp()))::bigint;
BEGIN
    SELECT array_agg(c.delivery_id) INTO ids FROM (
        SELECT d.delivery_id,
               row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at,
                                  d.delivery_id)
               + (SELECT count(*) FROM webhook_deliveries f
                   WHERE f.webhook_id = d.webhook_id AND f.status = 'pending'
                     AND f.lease_until > now()) AS slot
          FROM webhook_deliveries d JOIN webhooks w USING (webhook_id)
         WHERE d.status = 'pending' AND d.next_attempt_at <= now()
           AND (d.lease_until IS NULL OR d.lease_until <= now()) AND w.enabled
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                            WHERE e.webhook_id = d.webhook_id AND e.meeting_id = d.meeting_id
                              AND e.status = 'pending' AND e.seq < d.seq)
         ORDER BY d.next_attempt_at, d.delivery_id
         LIMIT p_limit * 4) c
     WHERE c.slot <= p_per_webhook;
    RETURN QUERY
    WITH mine AS (
        SELECT d.delivery_id FROM webhook_deliveries d
         WHERE d.delivery_id = ANY (ids) AND d.status = 'pending'
           AND (d.lease_until IS NULL OR d.lease_until <= now())
         ORDER BY d.next_attempt_at, d.delivery_id
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED),
    took AS (
        UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
               lease_until = now() + make_interval(secs => p_lease)
          FROM mine WHERE d.delivery_id = mine.delivery_id
        RETURNING d.*)
    SELECT t.delivery_id, t.attempts, w.url, t.message_id, now_s, t.body,
           mm_webhook_sign(w.secret, t.message_id, now_s, t.body)
           || CASE WHEN w.old_secret_until > now()
                   THEN ' ' || mm_webhook_sign(w.old_secret, t.message_id, now_s, t.body)
                   ELSE '' END
      FROM took t JOIN webhooks w USING (webhook_id);
END
$$;

-- The outcome of attempt p_attempt of a delivery: p_status the HTTP status
-- (0: no answer), p_response the first KiB of the answer (or why there was
-- none), p_retry_after its Retry-After in seconds (negative or NULL: none). A 2xx
-- delivers; a 410 also disables the webhook; otherwise the next attempt
-- comes after p_schedule[attempt] milliseconds (a fifth more at most, at
-- random, so that retries spread out), or not before Retry-After, until the
-- schedule runs out: then the delivery has failed. Returns its status, or
-- NULL when the lease was lost (the webhook deleted, or another deliverer
-- took the delivery over).
CREATE OR REPLACE FUNCTION mm_webhook_result(p_delivery bigint, p_attempt integer,
                                             p_status integer, p_response text,
                                             p_retry_after integer, p_schedule integer[])
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d webhook_deliveries;
    wait interval;
BEGIN
    SELECT * INTO d FROM webhook_deliveries
     WHERE delivery_id = p_delivery AND attempts = p_attempt AND status = 'pending'
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_status = 410 THEN
        UPDATE webhooks SET enabled = false, updated_at = date_trunc('second', now())
         WHERE webhook_id = d.webhook_id;
    END IF;
    IF p_status BETWEEN 200 AND 299 THEN
        d.status := 'delivered';
    ELSIF p_attempt >= coalesce(d.final_attempt, coalesce(array_length(p_schedule, 1), 0) + 1)
    THEN
        d.status := 'failed';
    ELSE
        wait := make_interval(secs => p_schedule[p_attempt] / 1000.0 * (1 + random() / 5));
        wait := greatest(wait, make_interval(secs => least(coalesce(p_retry_after, 0), 86400)));
    END IF;
    UPDATE webhook_deliveries SET status = d.status, lease_until = NULL,
           last_status_code = nullif(p_status, 0), last_response = left(p_response, 1024),
           next_attempt_at = CASE WHEN wait IS NULL THEN next_attempt_at ELSE now() + wait END,
           finished_at = CASE WHEN d.status = 'pending' THEN NULL ELSE now() END
     WHERE delivery_id = p_delivery;
    RETURN d.status;
END
$$;

-- The deliverer's periodic chores: lapsed seats told of (participant.left),
-- and deliveries finished more than p_keep_days ago forgotten (a batch at a
-- time). Returns the number of seats told of.
CREATE OR REPLACE FUNCTION mm_webhook_sweep(p_keep_days integer) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_deliveries WHERE delivery_id IN (
        SELECT delivery_id FROM webhook_deliveries
         WHERE status <> 'pending' AND finished_at < now() - make_interval(days => p_keep_days)
         LIMIT 1000);
    DELETE FROM webhook_events e WHERE e.event_id IN (
        SELECT e2.event_id FROM webhook_events e2
         WHERE e2.created_at < now() - make_interval(days => p_keep_days)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e2.event_id)
         LIMIT 1000);
    RETURN mm_webhook_lapsed(NULL);
END
$$;
