-- The API's state changes, one function per action, each called through one
-- prepared statement, so that every check and change of an action happens in
-- one transaction and one round trip. The module validates request bodies and
-- computes hashes and tokens; these functions decide everything that needs
-- the database, in the order SPEC.md section 1 gives for competing errors.
--
-- Every action returns mm_result: code is the HTTP status; on an error, error
-- is the machine code, message one human sentence and field the input field
-- at fault (or NULL); on success data is the JSON of the reply's "data" (or NULL).
-- A sentence is written where its refusal is decided, once: here for what
-- the database decides, in the module for the request itself and the token
-- (whose 401 is a code alone here, mm_unauthorized).
--
-- Functions called by a statement of their own are PL/pgSQL, even when their
-- body is one query: PostgreSQL parses and plans a SQL-language function that
-- it cannot inline (one with a FROM clause or a data change) again on every
-- call, PL/pgSQL keeps its plans for the session. The small SQL helpers below
-- (mm_ok, mm_ts, mm_meeting_json, ...) are inlined into the queries that use
-- them, which needs their volatility to be no stricter than their body's:
-- mm_ts is STABLE because to_char is. So are mm_token_holder and mm_access,
-- one SELECT each returning SETOF: inlined into the FROM clause of the query
-- that reads them, where their joins are planned with the rest.

DO $$ BEGIN
    CREATE TYPE mm_result AS (code integer, error text, field text, message text, data text);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- The items of the long lists (meetings, chat messages), as rows whose
-- column names are the JSON keys: array_to_json turns an array of a named
-- row type into objects with the type's description looked up once, where
-- json_build_object inspects the type of every argument on every row (twice
-- the cost per item); and it writes them compact, as json_agg would not.
-- The types are created once: a change of their columns needs a new name.
DO $$ BEGIN
    CREATE TYPE mm_meeting_item AS (meeting_id bigint, title text, start_time text,
                                    end_time text, status text, participant_count bigint);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    CREATE TYPE mm_message_item AS (message_id bigint, user_id bigint, username text,
                                    content text, "timestamp" text);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Signatures that later versions of this file replaced (the caller's token
-- generation joined the actions): dropped, so that no stale overload is left
-- to be called or to make a call ambiguous.
DROP FUNCTION IF EXISTS mm_logout(bigint);
DROP FUNCTION IF EXISTS mm_profile(bigint);
DROP FUNCTION IF EXISTS mm_profile_update(bigint, jsonb);
DROP FUNCTION IF EXISTS mm_context(bigint, bigint, integer);
DROP FUNCTION IF EXISTS mm_meeting_create(bigint, jsonb);
DROP FUNCTION IF EXISTS mm_meeting_list(bigint, text, text, integer, integer);
DROP FUNCTION IF EXISTS mm_meeting_get(bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_update(bigint, bigint, jsonb);
DROP FUNCTION IF EXISTS mm_meeting_delete(bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_start(bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_start(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_end(bigint, bigint);
DROP FUNCTION IF EXISTS mm_join_info(bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_join(bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_join(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS mm_meeting_leave(bigint, bigint);
DROP FUNCTION IF EXISTS mm_participant_list(bigint, bigint);
DROP FUNCTION IF EXISTS mm_participant_add(bigint, bigint, bigint, text);
DROP FUNCTION IF EXISTS mm_participant_remove(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS mm_participant_role(bigint, bigint, bigint, text);
DROP FUNCTION IF EXISTS mm_message_list(bigint, bigint, integer, integer);
DROP FUNCTION IF EXISTS mm_message_send(bigint, bigint, text);
-- The room's event now goes back to the module (p_node, room_event).
DROP FUNCTION IF EXISTS mm_message_send(bigint, bigint, bigint, text);
-- The announcement's own transaction (mm_message_send now notifies itself).
DROP FUNCTION IF EXISTS mm_message_announce(bigint);
-- mm_may_start's argument became the creator: a parameter's name cannot
-- change in place.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mm_may_start'
                AND 'p_meeting' = ANY (proargnames)) THEN
        DROP FUNCTION mm_may_start(bigint, integer);
    END IF;
END $$;
DROP FUNCTION IF EXISTS mm_recording_start(bigint, bigint, text);
DROP FUNCTION IF EXISTS mm_recording_start(bigint, bigint, bigint, text);
DROP FUNCTION IF EXISTS mm_recording_stop(bigint, bigint);
DROP FUNCTION IF EXISTS mm_recording_list(bigint, bigint);
DROP FUNCTION IF EXISTS mm_recording_file(bigint, bigint, integer, text);
-- Answers that became mm_result, so that their refusal's sentence is written
-- once (here): a changed return type cannot be replaced in place.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mm_join_info'
                AND 'removed' = ANY (proargnames)) THEN
        DROP FUNCTION mm_join_info(bigint, bigint, bigint);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mm_recording_stored'
                AND prorettype = 'boolean'::regtype) THEN
        DROP FUNCTION mm_recording_stored(bigint, text, bigint, text);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mm_meeting_if_match'
                AND prorettype = 'boolean'::regtype) THEN
        DROP FUNCTION mm_meeting_if_match(bigint, text);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION mm_ok(p_code integer, p_data json DEFAULT NULL) RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_code, NULL, NULL, NULL, p_data::text)::mm_result $$;

CREATE OR REPLACE FUNCTION mm_fail(p_code integer, p_error text, p_message text,
                                   p_field text DEFAULT NULL) RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_code, p_error, p_field, p_message, NULL)::mm_result $$;

-- The meeting of the path does not exist (or no longer: a writer that waited
-- for the meeting's row lock finds no row when a delete committed first).
CREATE OR REPLACE FUNCTION mm_no_meeting() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$ SELECT mm_fail(404, 'not_found', 'meeting not found') $$;

-- A conditional write found nothing to change: p_else, unless the meeting
-- itself is gone (a delete committed while the write waited for the row).
CREATE OR REPLACE FUNCTION mm_gone_or(p_meeting bigint, p_else mm_result) RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM meetings WHERE meeting_id = p_meeting) THEN
        RETURN mm_no_meeting();
    END IF;
    RETURN p_else;
END
$$;

-- Locks the meeting's row and returns it (all NULL when there is none). Every
-- writer that must see the meeting unchanged until it commits takes this lock
-- first: joins, adds, removals and recording changes queue on it, so capacity
-- and the one-active-recording rule hold under concurrency. NO KEY UPDATE:
-- inserting rows that reference the meeting (FK checks) is not blocked.
CREATE OR REPLACE FUNCTION mm_lock_meeting(p_meeting bigint) RETURNS meetings
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
BEGIN
    SELECT * INTO m FROM meetings WHERE meeting_id = p_meeting FOR NO KEY UPDATE;
    RETURN m;
END
$$;

-- The user a token of generation p_gen still speaks for: none when the
-- generation moved on (logout) or the user is deleted or no longer active.
-- SQL of one SELECT returning SETOF: inlined into the statements using it.
CREATE OR REPLACE FUNCTION mm_token_holder(p_user bigint, p_gen bigint) RETURNS SETOF users
LANGUAGE sql STABLE AS $$
    SELECT * FROM users WHERE user_id = p_user AND token_gen = p_gen AND status = 'active'
$$;

-- Authentication: the module verifies an access token's signature and expiry
-- itself; whether it still holds needs the database, and every action of an
-- authenticated request checks it first (SPEC.md 1: 401 before all else), in
-- the action's own statement, so a request makes one round trip, not two.
-- p_gen is the token's generation: logout bumps users.token_gen, and a user
-- deleted or no longer active loses every token. p_gen NULL: no token to
-- check (a download by pre-signed URL).
CREATE OR REPLACE FUNCTION mm_token_revoked(p_user bigint, p_gen bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN p_gen IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mm_token_holder(p_user, p_gen));
END
$$;

-- A token that no longer holds: the code alone. The module answers it
-- (auth.c, mm_revoked), with its sentence, its WWW-Authenticate header and
-- the rate-limit charge given back, as it does for the tokens it refuses itself.
CREATE OR REPLACE FUNCTION mm_unauthorized() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$ SELECT mm_fail(401, 'unauthorized', NULL) $$;

-- Times are written back in UTC, to the second.
CREATE OR REPLACE FUNCTION mm_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE OR REPLACE FUNCTION mm_time(p_epoch bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT to_timestamp(p_epoch) $$;

------------------------------------------------------------------------------
-- Accounts

CREATE OR REPLACE FUNCTION mm_user_json(u users) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('user_id', u.user_id, 'username', u.username,
                             'email', u.email, 'nickname', u.nickname)
$$;

CREATE OR REPLACE FUNCTION mm_profile_json(u users) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('user_id', u.user_id, 'username', u.username,
                             'email', u.email, 'nickname', u.nickname,
                             'avatar_url', u.avatar_url, 'status', u.status,
                             'created_at', mm_ts(u.created_at),
                             'updated_at', mm_ts(u.updated_at))
$$;

CREATE OR REPLACE FUNCTION mm_register(p_username text, p_email text, p_hash text,
                                       p_nickname text) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(p_username)) THEN
        RETURN mm_fail(409, 'conflict', 'that username is already taken', 'username');
    END IF;
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_email)) THEN
        RETURN mm_fail(409, 'conflict', 'that email is already registered', 'email');
    END IF;
    INSERT INTO users (username, email, password_hash, nickname)
    VALUES (p_username, p_email, p_hash, coalesce(p_nickname, ''))
    RETURNING * INTO u;
    RETURN mm_ok(200, json_build_object('user_id', u.user_id, 'username', u.username,
                                        'email', u.email, 'nickname', u.nickname,
                                        'created_at', mm_ts(u.created_at)));
EXCEPTION WHEN unique_violation THEN
    RETURN mm_fail(409, 'conflict', 'that username or email is already registered');
END
$$;

CREATE OR REPLACE FUNCTION mm_login_user(p_username text,
    OUT user_id bigint, OUT password_hash text, OUT token_gen integer, OUT data text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users
     WHERE lower(users.username) = lower(p_username) AND users.status = 'active';
    IF FOUND THEN
        user_id := u.user_id;
        password_hash := u.password_hash;
        token_gen := u.token_gen;
        data := mm_user_json(u)::text;
    END IF;
END
$$;

-- Replaces an old-style password hash (bcrypt of the password itself, which
-- reads 72 bytes of it) by a new one after a log-in proved the password;
-- only while the old one is still there, so a change made meanwhile wins.
CREATE OR REPLACE FUNCTION mm_password_upgrade(p_user bigint, p_old text, p_new text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET password_hash = p_new WHERE user_id = p_user AND password_hash = p_old;
    RETURN FOUND;
END
$$;

-- Refresh tokens are kept as SHA-256 of their jti.
CREATE OR REPLACE FUNCTION mm_refresh_store(p_jti text, p_user bigint, p_family text,
                                            p_ttl integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO refresh_tokens (jti_hash, user_id, family, expires_at)
    VALUES (sha256(convert_to(p_jti, 'UTF8')), p_user, p_family,
            now() + make_interval(secs => p_ttl));
END
$$;

-- Rotates a refresh token: the old one stops working, a new one of the same
-- family is stored. Presenting an already rotated token is taken as theft and
-- revokes the whole family. code 200 with the user's token generation, or 401.
CREATE OR REPLACE FUNCTION mm_refresh_rotate(p_old text, p_user bigint, p_new text,
                                             p_ttl integer,
                                             OUT code integer, OUT token_gen integer)
LANGUAGE plpgsql AS $$
DECLARE
    t refresh_tokens;
BEGIN
    code := 401;
    SELECT * INTO t FROM refresh_tokens
     WHERE jti_hash = sha256(convert_to(p_old, 'UTF8')) FOR UPDATE;
    IF NOT FOUND OR t.user_id <> p_user OR t.revoked OR t.expires_at <= now() THEN
        RETURN;
    END IF;
    IF t.rotated THEN
        UPDATE refresh_tokens SET revoked = true WHERE family = t.family;
        RETURN;
    END IF;
    UPDATE refresh_tokens SET rotated = true WHERE jti_hash = t.jti_hash;
    PERFORM mm_refresh_store(p_new, p_user, t.family, p_ttl);
    SELECT 200, u.token_gen INTO code, token_gen FROM users u
     WHERE u.user_id = p_user AND u.status = 'active';
    IF NOT FOUND THEN
        code := 401;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION mm_logout(p_user bigint, p_gen bigint) RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    UPDATE users SET token_gen = token_gen + 1 WHERE user_id = p_user;
    UPDATE refresh_tokens SET revoked = true WHERE user_id = p_user AND NOT revoked;
    RETURN mm_ok(200);
END
$$;

CREATE OR REPLACE FUNCTION mm_profile(p_user bigint, p_gen bigint) RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    SELECT * INTO u FROM users WHERE user_id = p_user;
    IF NOT FOUND THEN
        RETURN mm_fail(404, 'not_found', 'user not found');
    END IF;
    RETURN mm_ok(200, mm_profile_json(u));
END
$$;

CREATE OR REPLACE FUNCTION mm_profile_update(p_user bigint, p_gen bigint, p_patch jsonb)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    IF p_patch ? 'email' AND EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_patch->>'email')
                                     AND user_id <> p_user) THEN
        RETURN mm_fail(409, 'conflict', 'that email is already registered', 'email');
    END IF;
    UPDATE users SET
        nickname   = CASE WHEN p_patch ? 'nickname' THEN p_patch->>'nickname' ELSE nickname END,
        email      = CASE WHEN p_patch ? 'email' THEN p_patch->>'email' ELSE email END,
        avatar_url = CASE WHEN p_patch ? 'avatar_url' THEN p_patch->>'avatar_url'
                          ELSE avatar_url END,
        updated_at = date_trunc('second', now())
     WHERE user_id = p_user RETURNING * INTO u;
    IF NOT FOUND THEN
        RETURN mm_fail(404, 'not_found', 'user not found');
    END IF;
    RETURN mm_ok(200, mm_profile_json(u));
EXCEPTION WHEN unique_violation THEN
    RETURN mm_fail(409, 'conflict', 'that email is already registered', 'email');
END
$$;

------------------------------------------------------------------------------
-- Meetings: membership and roles

-- Everything an action on a meeting checks first, read in one go (three
-- index probes, one executor run): whether the caller's token still holds,
-- the meeting (NULL when missing) and the caller's role in it (NULL when not
-- a member). Inlined like mm_token_holder.
CREATE OR REPLACE FUNCTION mm_access(p_meeting bigint, p_user bigint, p_gen bigint,
                                     OUT token_ok boolean, OUT meeting meetings,
                                     OUT role text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT p_gen IS NULL OR EXISTS (SELECT 1 FROM mm_token_holder(p_user, p_gen)), m, p.role
      FROM (SELECT) one
      LEFT JOIN meetings m ON m.meeting_id = p_meeting
      LEFT JOIN participants p
             ON p.meeting_id = p_meeting AND p.user_id = p_user AND p.removed_at IS NULL
            AND p.waiting_since IS NULL
$$;

-- The answer to mm_access's findings for an action whose route needs p_need
-- of the caller: 0 any member, 1 host or moderator, 2 host, 3 the creator,
-- -1 nothing but the meeting (join: anyone may try). 401 when the caller's
-- token no longer holds, 404 when the meeting does not exist, 403 when the
-- caller falls short, in that order (SPEC.md 1); else 200: go on.
CREATE OR REPLACE FUNCTION mm_verdict(p_token_ok boolean, p_meeting meetings, p_role text,
                                      p_user bigint, p_need integer)
RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_token_ok IS NOT TRUE THEN mm_unauthorized()  -- NULL too: fail closed
        WHEN (p_meeting).meeting_id IS NULL THEN mm_no_meeting()
        WHEN p_need < 0 THEN mm_ok(200)
        WHEN p_role IS NULL
            THEN mm_fail(403, 'forbidden', 'you are not a member of this meeting')
        WHEN (p_need = 1 AND p_role NOT IN ('host', 'moderator'))
             OR (p_need = 2 AND p_role <> 'host')
            THEN mm_fail(403, 'forbidden', 'your role in this meeting does not allow this')
        WHEN p_need = 3 AND (p_meeting).creator_id <> p_user
            THEN mm_fail(403, 'forbidden', 'only the creator of the meeting may do this')
        ELSE mm_ok(200)
    END
$$;

-- mm_verdict of the caller's access. The statement of a route whose need
-- names a meeting runs it with that need (routes.def) before the route's
-- action, and runs the action only on 200 (mod_meeting/httpd/db.c, GATED):
-- the actions below that take (p_meeting, p_user, p_gen) first do not check
-- them again, and calling one directly skips the check. Those that read the
-- caller's access for their answer (mm_meeting_get, mm_message_send), check it
-- under the meeting's row lock (mm_meeting_join) or are given the need
-- (mm_recording_file) check it themselves (routes.def: OWN_CHECK).
CREATE OR REPLACE FUNCTION mm_context(p_meeting bigint, p_user bigint, p_gen bigint,
                                      p_need integer)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT mm_verdict(a.token_ok, a.meeting, a.role, p_user, p_need)
              FROM mm_access(p_meeting, p_user, p_gen) a);
END
$$;

CREATE OR REPLACE FUNCTION mm_settings_json(m meetings) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('enable_recording', m.enable_recording,
                             'enable_chat', m.enable_chat,
                             'enable_screen_share', m.enable_screen_share,
                             'enable_waiting_room', m.enable_waiting_room,
                             'mute_on_join', m.mute_on_join)
$$;

CREATE OR REPLACE FUNCTION mm_meeting_json(m meetings) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('meeting_id', m.meeting_id, 'title', m.title,
                             'description', m.description,
                             'start_time', mm_ts(m.start_time), 'end_time', mm_ts(m.end_time),
                             'max_participants', m.max_participants,
                             'meeting_type', m.meeting_type, 'status', m.status,
                             'creator_id', m.creator_id, 'settings', mm_settings_json(m),
                             'has_password', m.password_hash IS NOT NULL,
                             'created_at', mm_ts(m.created_at))
$$;

-- The 400 of a meeting that would end before it starts; p_field is the
-- time the request gave (end_time when it gave both).
CREATE OR REPLACE FUNCTION mm_times_refused(p_field text) RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT mm_fail(400, 'invalid_field', 'end_time must be after start_time', p_field)
$$;

-- p_doc: the validated body with times as epoch seconds and the password
-- replaced by its hash (password_hash).
CREATE OR REPLACE FUNCTION mm_meeting_create(p_user bigint, p_gen bigint, p_doc jsonb)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    s jsonb := coalesce(p_doc->'settings', '{}'::jsonb);
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    IF (p_doc->>'end_time')::bigint <= (p_doc->>'start_time')::bigint THEN
        RETURN mm_times_refused('end_time');
    END IF;
    INSERT INTO meetings (title, description, start_time, end_time, max_participants,
                          meeting_type, password_hash, creator_id, enable_recording,
                          enable_chat, enable_screen_share, enable_waiting_room, mute_on_join)
    VALUES (p_doc->>'title', coalesce(p_doc->>'description', ''),
            mm_time((p_doc->>'start_time')::bigint), mm_time((p_doc->>'end_time')::bigint),
            (p_doc->>'max_participants')::integer, p_doc->>'meeting_type',
            p_doc->>'password_hash', p_user,
            coalesce((s->>'enable_recording')::boolean, false),
            coalesce((s->>'enable_chat')::boolean, true),
            coalesce((s->>'enable_screen_share')::boolean, true),
            coalesce((s->>'enable_waiting_room')::boolean, false),
            coalesce((s->>'mute_on_join')::boolean, false))
    RETURNING * INTO m;
    INSERT INTO participants (meeting_id, user_id, role) VALUES (m.meeting_id, p_user, 'host');
    RETURN mm_ok(201, json_build_object(
        'meeting_id', m.meeting_id, 'title', m.title, 'description', m.description,
        'start_time', mm_ts(m.start_time), 'end_time', mm_ts(m.end_time),
        'max_participants', m.max_participants, 'meeting_type', m.meeting_type,
        'status', m.status, 'creator_id', m.creator_id, 'created_at', mm_ts(m.created_at)));
END
$$;

-- LIKE pattern matching p_keyword literally ('%', '_' and '\' escaped).
CREATE OR REPLACE FUNCTION mm_like_pattern(p_keyword text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '%' || replace(replace(replace(lower(p_keyword), '\', '\\'), '%', '\%'), '_', '\_')
           || '%'
$$;

CREATE OR REPLACE FUNCTION mm_meeting_list(p_user bigint, p_gen bigint, p_status text,
                                           p_keyword text, p_page integer, p_size integer)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    pattern text := mm_like_pattern(p_keyword);
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    RETURN (WITH mine AS (
        SELECT m.meeting_id, m.title, m.start_time, m.end_time, m.status
          FROM participants p JOIN meetings m USING (meeting_id)
         WHERE p.user_id = p_user AND p.removed_at IS NULL AND p.waiting_since IS NULL
           AND (p_status IS NULL OR m.status = p_status)
           AND (pattern IS NULL
                OR lower(m.title) LIKE pattern OR lower(m.description) LIKE pattern)),
    page AS (
        SELECT * FROM mine ORDER BY start_time DESC, meeting_id DESC
         LIMIT p_size OFFSET (p_page - 1)::bigint * p_size)
    SELECT mm_ok(200, json_build_object(
        'meetings', coalesce((
            SELECT array_to_json(array_agg(
                       (g.meeting_id, g.title, mm_ts(g.start_time), mm_ts(g.end_time),
                        g.status, (SELECT count(*) FROM participants c
                                    WHERE c.meeting_id = g.meeting_id
                                      AND c.removed_at IS NULL
                                      AND c.waiting_since IS NULL))::mm_meeting_item
                       ORDER BY g.start_time DESC, g.meeting_id DESC))
              FROM page g), '[]'::json),
        'total', (SELECT count(*) FROM mine), 'page', p_page, 'page_size', p_size)));
END
$$;

CREATE OR REPLACE FUNCTION mm_meeting_get(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a record;
    r mm_result;
BEGIN
    SELECT * INTO a FROM mm_access(p_meeting, p_user, p_gen);
    r := mm_verdict(a.token_ok, a.meeting, a.role, p_user, 0);
    IF r.code <> 200 THEN
        RETURN r;
    END IF;
    RETURN mm_ok(200, mm_meeting_json(a.meeting));
END
$$;

-- Admits p_target (NULL: everyone) waiting in p_meeting: they become
-- members, and hosts, moderators and the waiting socket hear it
-- (waiting-left, reason "admitted"). Returns how many were admitted. The
-- caller holds the meeting's row lock.
CREATE OR REPLACE FUNCTION mm_waiting_admit_users(p_meeting bigint, p_target bigint)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    admitted bigint;
    n integer := 0;
BEGIN
    FOR admitted IN
        UPDATE participants SET waiting_since = NULL
         WHERE meeting_id = p_meeting AND waiting_since IS NOT NULL AND removed_at IS NULL
           AND (p_target IS NULL OR user_id = p_target)
        RETURNING user_id
    LOOP
        PERFORM mm_notify('waiting-left', p_meeting,
                          jsonb_build_object('user_id', admitted, 'reason', 'admitted'));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- What an update of the settings does at once (SPEC.md 6), given the meeting
-- before (m) and after (changed) it: an ongoing meeting's room hears the new
-- settings (signald stops the shares they forbid), and turning the waiting
-- room off admits everyone waiting.
CREATE OR REPLACE FUNCTION mm_settings_acted(m meetings, changed meetings) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed.status = 'ongoing'
       AND mm_settings_json(m)::text <> mm_settings_json(changed)::text THEN
        PERFORM mm_notify('settings-changed', changed.meeting_id,
                          jsonb_build_object('settings', mm_settings_json(changed)));
    END IF;
    IF m.enable_waiting_room AND NOT changed.enable_waiting_room THEN
        PERFORM mm_waiting_admit_users(changed.meeting_id, NULL);
    END IF;
END
$$;

-- A join that waits (SPEC.md 6): the first one puts p_user in the waiting
-- room and tells the hosts and moderators; a repeated one answers the same.
CREATE OR REPLACE FUNCTION mm_join_wait(p_meeting bigint, p_user bigint, p participants)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF p.participant_id IS NULL THEN
        INSERT INTO participants (meeting_id, user_id, role, waiting_since)
        VALUES (p_meeting, p_user, 'participant', now()) RETURNING * INTO p;
        PERFORM mm_notify('waiting-joined', p_meeting,
                          jsonb_build_object('user_id', u.user_id, 'username', u.username,
                                             'nickname', u.nickname))
           FROM users u WHERE u.user_id = p_user;
        PERFORM mm_webhook_emit(p_meeting, 'participant.waiting',
                                jsonb_build_object('user_id', p_user));
    END IF;
    RETURN mm_ok(202, json_build_object('meeting_id', p_meeting,
                                        'participant_id', p.participant_id,
                                        'status', 'waiting'));
END
$$;

-- p_patch: the validated body, times as epoch seconds, password as
-- password_hash (JSON null clears it).
CREATE OR REPLACE FUNCTION mm_meeting_update(p_meeting bigint, p_user bigint, p_gen bigint,
                                             p_patch jsonb)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    changed meetings;
    s jsonb := coalesce(p_patch->'settings', '{}'::jsonb);
    new_start timestamptz;
    new_end timestamptz;
BEGIN
    m := mm_lock_meeting(p_meeting);
    IF m.meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    new_start := coalesce(mm_time((p_patch->>'start_time')::bigint), m.start_time);
    new_end := coalesce(mm_time((p_patch->>'end_time')::bigint), m.end_time);
    IF new_end <= new_start THEN
        RETURN mm_times_refused(CASE WHEN p_patch ? 'end_time' THEN 'end_time'
                                     ELSE 'start_time' END);
    END IF;
    IF m.status IN ('ended', 'cancelled') THEN
        RETURN mm_fail(409, 'conflict', 'a meeting that is ' || m.status
                                        || ' can no longer be changed');
    END IF;
    IF p_patch ? 'max_participants'
       AND (p_patch->>'max_participants')::integer < mm_online_count(p_meeting) THEN
        RETURN mm_fail(409, 'conflict',
                       'max_participants cannot drop below the participants online',
                       'max_participants');
    END IF;
    UPDATE meetings SET
        title = coalesce(p_patch->>'title', title),
        description = coalesce(p_patch->>'description', description),
        start_time = new_start, end_time = new_end,
        max_participants = coalesce((p_patch->>'max_participants')::integer, max_participants),
        meeting_type = coalesce(p_patch->>'meeting_type', meeting_type),
        password_hash = CASE WHEN p_patch ? 'password_hash' THEN p_patch->>'password_hash'
                             ELSE password_hash END,
        enable_recording = coalesce((s->>'enable_recording')::boolean, enable_recording),
        enable_chat = coalesce((s->>'enable_chat')::boolean, enable_chat),
        enable_screen_share = coalesce((s->>'enable_screen_share')::boolean,
                                       enable_screen_share),
        enable_waiting_room = coalesce((s->>'enable_waiting_room')::boolean,
                                       enable_waiting_room),
        mute_on_join = coalesce((s->>'mute_on_join')::boolean, mute_on_join),
        updated_at = date_trunc('second', now())
     WHERE meeting_id = p_meeting
    RETURNING * INTO changed;
    PERFORM mm_settings_acted(m, changed);
    -- signald resizes the ongoing meeting's SFU room.
    IF changed.status = 'ongoing' AND changed.max_participants <> m.max_participants THEN
        PERFORM mm_notify('meeting-resized', p_meeting,
                          jsonb_build_object('max_participants', changed.max_participants));
    END IF;
    RETURN mm_ok(200);
END
$$;

-- Scheduled: cancelled. Ended or cancelled: removed with everything under it;
-- data then lists the recording ids whose files the module must delete.
CREATE OR REPLACE FUNCTION mm_meeting_delete(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m_status text;
    recs json;
BEGIN
    SELECT status INTO m_status FROM meetings WHERE meeting_id = p_meeting FOR UPDATE;
    IF NOT FOUND THEN
        RETURN mm_no_meeting();
    END IF;
    IF m_status = 'ongoing' THEN
        RETURN mm_fail(409, 'conflict', 'an ongoing meeting cannot be deleted; end it first');
    END IF;
    IF m_status = 'scheduled' THEN
        UPDATE meetings SET status = 'cancelled', updated_at = date_trunc('second', now())
         WHERE meeting_id = p_meeting;
        RETURN mm_ok(200, json_build_object('recordings', '[]'::json));
    END IF;
    SELECT coalesce(json_agg(recording_id), '[]'::json) INTO recs
      FROM recordings WHERE meeting_id = p_meeting;
    DELETE FROM meetings WHERE meeting_id = p_meeting;
    RETURN mm_ok(200, json_build_object('recordings', recs));
END
$$;

-- Whether p_creator may have one more ongoing meeting: fewer than p_max now.
-- The creator's row is locked, so that concurrent starts of their meetings
-- count one after the other. Every path that starts a meeting asks this
-- first (MeetingMaxOngoingMeetings: each ongoing meeting can hold signaling
-- sockets, and each of those an httpd worker).
CREATE OR REPLACE FUNCTION mm_may_start(p_creator bigint, p_max integer) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM 1 FROM users WHERE user_id = p_creator FOR NO KEY UPDATE;
    SELECT count(*) INTO n FROM meetings WHERE creator_id = p_creator AND status = 'ongoing';
    IF n >= p_max THEN
        RETURN mm_fail(409, 'conflict', format(
            'the creator of this meeting already has %s ongoing meetings, the most allowed; '
            'end one first', n));
    END IF;
    RETURN mm_ok(200);
END
$$;

-- p_max_ongoing is MeetingMaxOngoingMeetings (join passes it on when a
-- host's join starts the meeting).
CREATE OR REPLACE FUNCTION mm_meeting_start(p_meeting bigint, p_user bigint, p_gen bigint,
                                            p_max_ongoing integer)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    r mm_result;
    seats integer;
BEGIN
    -- The meeting's row before its creator's (mm_may_start), in the order a
    -- host's join takes them: a start and a join at once queue, not deadlock.
    m := mm_lock_meeting(p_meeting);
    IF m.status = 'scheduled' THEN
        r := mm_may_start(m.creator_id, p_max_ongoing);
        IF r.code <> 200 THEN
            RETURN r;
        END IF;
    END IF;
    UPDATE meetings SET status = 'ongoing', updated_at = date_trunc('second', now())
     WHERE meeting_id = p_meeting AND status = 'scheduled'
    RETURNING max_participants INTO seats;
    IF NOT FOUND THEN
        RETURN mm_gone_or(p_meeting,
                          mm_fail(409, 'conflict', 'only a scheduled meeting can be started'));
    END IF;
    PERFORM mm_webhook_emit(p_meeting, 'meeting.started',
                            jsonb_build_object('started_at', mm_ts(now())));
    -- signald makes the meeting's SFU room now, sized for its participants.
    PERFORM mm_notify('meeting-started', p_meeting,
                      jsonb_build_object('max_participants', seats));
    RETURN mm_ok(200);
END
$$;

-- Stops the active recording of a meeting, if any; true when one was stopped.
-- An uploaded recording is complete at once; a server one goes to processing
-- and gets its job, due once the SFU has had p_settle to close its files.
CREATE OR REPLACE FUNCTION mm_recording_finish(p_meeting bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    rec recordings;
BEGIN
    UPDATE recordings SET status = CASE source WHEN 'server' THEN 'processing'
                                                ELSE 'completed' END,
           stopped_at = now(),
           duration = greatest(0, extract(epoch FROM now() - created_at))::integer
     WHERE meeting_id = p_meeting AND status = 'recording'
    RETURNING * INTO rec;
    IF rec.recording_id IS NULL THEN
        RETURN false;
    END IF;
    IF rec.source = 'server' THEN
        -- recording.completed (or .failed) comes from the worker (mm_job_done).
        INSERT INTO recording_jobs (recording_id) VALUES (rec.recording_id);
        PERFORM mm_notify('sfu-record', p_meeting,
                          jsonb_build_object('recording_id', rec.recording_id,
                                             'record', false, 'rec_dir', rec.raw_dir));
    ELSE
        PERFORM mm_webhook_emit(p_meeting, 'recording.completed', jsonb_build_object(
            'recording_id', rec.recording_id, 'duration', rec.duration, 'size', rec.size));
    END IF;
    PERFORM mm_notify('recording-stopped', p_meeting,
                      jsonb_build_object('recording_id', rec.recording_id));
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION mm_meeting_end(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meetings SET status = 'ended', updated_at = date_trunc('second', now())
     WHERE meeting_id = p_meeting AND status = 'ongoing';
    IF NOT FOUND THEN
        RETURN mm_gone_or(p_meeting,
                          mm_fail(409, 'conflict', 'only an ongoing meeting can be ended'));
    END IF;
    UPDATE participants SET lease_until = NULL, left_at = date_trunc('second', now())
     WHERE meeting_id = p_meeting AND lease_until > now();
    -- Nobody waits for an ended meeting; signald closes their sockets (4410).
    DELETE FROM participants WHERE meeting_id = p_meeting AND waiting_since IS NOT NULL;
    -- Seats that had lapsed before the end were left before it; the seats
    -- live at the end are told of by meeting.ended alone (SPEC.md 8). After
    -- the update above, whose rows a leave may hold while it writes its own
    -- participant.left: one order of locks for both.
    PERFORM mm_webhook_lapsed(p_meeting);
    PERFORM mm_recording_finish(p_meeting);
    PERFORM mm_webhook_emit(p_meeting, 'meeting.ended',
                            jsonb_build_object('ended_at', mm_ts(now())));
    PERFORM mm_notify('meeting-ended', p_meeting, NULL);
    RETURN mm_ok(200);
END
$$;

-- A member the hosts removed joins no more (until added again).
CREATE OR REPLACE FUNCTION mm_removed() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT mm_fail(403, 'forbidden', 'you were removed from this meeting')
$$;

-- What join needs before the password check. verdict: 401 when the caller's
-- token no longer holds, 404 when the meeting is missing (both told before a
-- refused body), 403 when the caller was removed from it (told after one:
-- SPEC.md 1), else 200 with the meeting's password hash and whether the
-- caller is its host.
CREATE OR REPLACE FUNCTION mm_join_info(p_meeting bigint, p_user bigint, p_gen bigint,
    OUT verdict mm_result, OUT password_hash text, OUT is_host boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    removed boolean;
BEGIN
    is_host := false;
    IF mm_token_revoked(p_user, p_gen) THEN
        verdict := mm_unauthorized();
        RETURN;
    END IF;
    SELECT m.password_hash INTO password_hash FROM meetings m WHERE m.meeting_id = p_meeting;
    IF NOT FOUND THEN
        verdict := mm_no_meeting();
        RETURN;
    END IF;
    SELECT p.role = 'host' AND p.removed_at IS NULL, p.removed_at IS NOT NULL
      INTO is_host, removed
      FROM participants p WHERE p.meeting_id = p_meeting AND p.user_id = p_user;
    is_host := coalesce(is_host, false);  -- no participant row: both NULL
    verdict := CASE WHEN removed THEN mm_removed() ELSE mm_ok(200) END;
END
$$;

-- Takes a seat: only in an ongoing meeting, under the capacity rule for
-- anyone but a host, atomically (the meeting row lock serialises joins). A
-- host's join of a scheduled meeting starts it first (SPEC 3.8, v1.1):
-- clients written for the user's document never call start.
CREATE OR REPLACE FUNCTION mm_meeting_join(p_meeting bigint, p_user bigint, p_gen bigint,
                                           p_max_ongoing integer)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    p participants;
    r mm_result;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        RETURN mm_unauthorized();
    END IF;
    m := mm_lock_meeting(p_meeting);
    IF m.meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    SELECT * INTO p FROM participants WHERE meeting_id = p_meeting AND user_id = p_user;
    IF p.removed_at IS NOT NULL THEN
        RETURN mm_removed();
    END IF;
    IF m.status = 'scheduled' AND coalesce(p.role = 'host', false) THEN
        -- start itself, so that the join does all that start does
        r := mm_meeting_start(p_meeting, p_user, p_gen, p_max_ongoing);
        IF r.code <> 200 THEN
            RETURN r;
        END IF;
        m.status := 'ongoing';
    END IF;
    IF m.status = 'scheduled' THEN
        RETURN mm_fail(409, 'conflict',
                       'the meeting has not started yet: its host starts it');
    END IF;
    IF m.status <> 'ongoing' THEN
        RETURN mm_fail(409, 'conflict', 'only an ongoing meeting can be joined');
    END IF;
    -- The waiting room: a stranger waits for admission (no seat, no capacity
    -- check); a member never waits, whoever made them one.
    IF (p.participant_id IS NULL AND m.enable_waiting_room) OR p.waiting_since IS NOT NULL THEN
        RETURN mm_join_wait(p_meeting, p_user, p);
    END IF;
    -- Hosts and holders of a live lease keep their seat; anyone else (a
    -- stranger, a member who never joined, left or whose lease ran out, where
    -- lease_until is NULL or past) takes one only if one is free.
    IF NOT (coalesce(p.role = 'host', false) OR coalesce(p.lease_until > now(), false))
       AND mm_online_count(p_meeting) >= m.max_participants THEN
        RETURN mm_fail(409, 'meeting_full', 'the meeting is full');
    END IF;
    IF p.participant_id IS NULL THEN
        INSERT INTO participants (meeting_id, user_id, role)
        VALUES (p_meeting, p_user, 'participant') RETURNING * INTO p;
    END IF;
    UPDATE participants
       SET lease_until = now() + mm_lease(),
           joined_at = CASE WHEN p.lease_until > now() THEN joined_at
                            ELSE date_trunc('second', now()) END,
           left_at = NULL
     WHERE participant_id = p.participant_id;
    IF NOT coalesce(p.lease_until > now(), false) THEN
        PERFORM mm_webhook_online(p);
    END IF;
    RETURN mm_ok(200, json_build_object('meeting_id', p_meeting,
                                        'participant_id', p.participant_id));
END
$$;

CREATE OR REPLACE FUNCTION mm_meeting_leave(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT mm_seat_release(p_meeting, p_user) THEN
        RETURN mm_gone_or(p_meeting, mm_fail(409, 'conflict', 'you are not in this meeting'));
    END IF;
    PERFORM mm_notify('participant-left', p_meeting, jsonb_build_object('user_id', p_user));
    RETURN mm_ok(200);
END
$$;

------------------------------------------------------------------------------
-- Participants

CREATE OR REPLACE FUNCTION mm_participant_list(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT mm_ok(200, json_build_object(
        'participants', coalesce(json_agg(json_build_object(
            'participant_id', p.participant_id, 'user_id', p.user_id,
            'username', u.username, 'nickname', u.nickname, 'role', p.role,
            'status', CASE WHEN p.lease_until > now() THEN 'online' ELSE 'offline' END,
            'joined_at', mm_ts(coalesce(p.joined_at, p.created_at)))
            ORDER BY p.participant_id), '[]'::json),
        'total', count(*)))
      FROM participants p JOIN users u USING (user_id)
     WHERE p.meeting_id = p_meeting AND p.removed_at IS NULL AND p.waiting_since IS NULL);
END
$$;

-- Adds (or re-adds a removed) user. Moderators may add participants only.
CREATE OR REPLACE FUNCTION mm_participant_add(p_meeting bigint, p_user bigint, p_gen bigint,
                                              p_target bigint, p_role text) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    caller_role text;
    p participants;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE user_id = p_target) THEN
        RETURN mm_fail(404, 'not_found', 'user not found', 'user_id');
    END IF;
    SELECT role INTO caller_role FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_user;
    IF caller_role = 'moderator' AND p_role <> 'participant' THEN
        RETURN mm_fail(403, 'forbidden', 'a moderator may only add participants', 'role');
    END IF;
    -- The meeting row lock serialises this with joins and other adds, which
    -- may insert the same (meeting, user) row (else: unique_violation, a 500).
    IF (mm_lock_meeting(p_meeting)).meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    SELECT * INTO p FROM participants WHERE meeting_id = p_meeting AND user_id = p_target
       FOR UPDATE;
    IF FOUND AND p.removed_at IS NULL AND p.waiting_since IS NULL THEN
        RETURN mm_fail(409, 'conflict', 'that user is already a member of this meeting',
                       'user_id');
    END IF;
    IF FOUND AND p.waiting_since IS NOT NULL THEN
        -- Added while waiting: admitted, with the role given.
        UPDATE participants SET role = p_role WHERE participant_id = p.participant_id;
        PERFORM mm_waiting_admit_users(p_meeting, p_target);
    ELSIF FOUND THEN
        UPDATE participants SET removed_at = NULL, role = p_role, lease_until = NULL,
               joined_at = NULL, left_at = NULL
         WHERE participant_id = p.participant_id;
    ELSE
        INSERT INTO participants (meeting_id, user_id, role)
        VALUES (p_meeting, p_target, p_role);
    END IF;
    RETURN mm_ok(200);
END
$$;

-- The target of a participant action: 404 unless a current member; 403 for
-- the creator; moderators may act on participants only.
CREATE OR REPLACE FUNCTION mm_participant_target(p_meeting bigint, p_user bigint,
                                                 p_target bigint, p_hosts_only boolean)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    caller_role text;
    target_role text;
BEGIN
    SELECT role INTO target_role FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_target AND removed_at IS NULL
       AND waiting_since IS NULL;
    IF NOT FOUND THEN
        RETURN mm_fail(404, 'not_found', 'that user is not a member of this meeting');
    END IF;
    IF (SELECT creator_id FROM meetings WHERE meeting_id = p_meeting) = p_target THEN
        RETURN mm_fail(403, 'forbidden', 'the creator of a meeting always stays its host');
    END IF;
    SELECT role INTO caller_role FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_user;
    IF caller_role = 'moderator' AND (p_hosts_only OR target_role <> 'participant') THEN
        RETURN mm_fail(403, 'forbidden', 'a moderator may only act on participants');
    END IF;
    RETURN mm_ok(200);
END
$$;

CREATE OR REPLACE FUNCTION mm_participant_remove(p_meeting bigint, p_user bigint, p_gen bigint,
                                                 p_target bigint) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    r mm_result := mm_participant_target(p_meeting, p_user, p_target, false);
BEGIN
    IF r.code <> 200 THEN
        RETURN r;
    END IF;
    -- Serialised with joins (meeting row lock): a join racing the removal
    -- either finishes first (and the removal takes its seat back) or sees it.
    IF (mm_lock_meeting(p_meeting)).meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    UPDATE participants SET removed_at = now(), lease_until = NULL,
           left_at = CASE WHEN lease_until > now() THEN date_trunc('second', now())
                          ELSE left_at END
     WHERE meeting_id = p_meeting AND user_id = p_target AND removed_at IS NULL
       AND waiting_since IS NULL;
    IF NOT FOUND THEN -- another removal got there first
        RETURN mm_fail(404, 'not_found', 'that user is not a member of this meeting');
    END IF;
    PERFORM mm_notify('participant-removed', p_meeting, jsonb_build_object('user_id', p_target));
    PERFORM mm_webhook_emit(p_meeting, 'participant.removed',
                            jsonb_build_object('user_id', p_target, 'by_user_id', p_user));
    RETURN mm_ok(200);
END
$$;

CREATE OR REPLACE FUNCTION mm_participant_role(p_meeting bigint, p_user bigint, p_gen bigint,
                                               p_target bigint, p_role text) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    r mm_result := mm_participant_target(p_meeting, p_user, p_target, true);
BEGIN
    IF r.code <> 200 THEN
        RETURN r;
    END IF;
    UPDATE participants SET role = p_role
     WHERE meeting_id = p_meeting AND user_id = p_target AND removed_at IS NULL
       AND waiting_since IS NULL;
    IF NOT FOUND THEN
        -- A removal, or the meeting's delete, committed meanwhile.
        RETURN mm_gone_or(p_meeting, mm_fail(404, 'not_found',
                                             'that user is not a member of this meeting'));
    END IF;
    PERFORM mm_notify('role-changed', p_meeting,
                      jsonb_build_object('user_id', p_target, 'role', p_role));
    RETURN mm_ok(200);
END
$$;

-- Asks p_target to mute (SPEC.md 6): their socket gets mute-requested, the
-- room their media-state with audio off. Hosts may ask any member; a
-- moderator anyone but a host.
CREATE OR REPLACE FUNCTION mm_participant_mute(p_meeting bigint, p_user bigint, p_gen bigint,
                                               p_target bigint) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    caller_role text;
    target_role text;
BEGIN
    SELECT role INTO target_role FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_target AND removed_at IS NULL
       AND waiting_since IS NULL;
    IF NOT FOUND THEN
        RETURN mm_fail(404, 'not_found', 'that user is not a member of this meeting');
    END IF;
    SELECT role INTO caller_role FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_user;
    IF caller_role = 'moderator' AND target_role = 'host' THEN
        RETURN mm_fail(403, 'forbidden', 'a moderator may not mute a host');
    END IF;
    IF (SELECT status FROM meetings WHERE meeting_id = p_meeting) <> 'ongoing' THEN
        RETURN mm_fail(409, 'conflict', 'only the members of an ongoing meeting can be muted');
    END IF;
    PERFORM mm_notify('mute-requested', p_meeting,
                      jsonb_build_object('user_id', p_target, 'by_user_id', p_user));
    RETURN mm_ok(200);
END
$$;

------------------------------------------------------------------------------
-- The waiting room (SPEC.md 6)

-- Who waits, oldest first; empty when nobody does (the setting off, the
-- meeting ended).
CREATE OR REPLACE FUNCTION mm_waiting_list(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT mm_ok(200, json_build_object(
        'waiting', coalesce(json_agg(json_build_object(
            'user_id', p.user_id, 'username', u.username, 'nickname', u.nickname,
            'since', mm_ts(p.waiting_since))
            ORDER BY p.waiting_since, p.participant_id), '[]'::json)))
      FROM participants p JOIN users u USING (user_id)
     WHERE p.meeting_id = p_meeting AND p.waiting_since IS NOT NULL
       AND p.removed_at IS NULL);
END
$$;

CREATE OR REPLACE FUNCTION mm_not_waiting() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT mm_fail(404, 'not_found', 'that user is not waiting to join this meeting')
$$;

-- Admits p_target, or (p_target NULL) everyone waiting: data {admitted: n}.
-- Admission is permission, not a seat: the seat is taken when the admitted
-- user's socket is seated, or at their next join, under the capacity rule.
-- Serialised on the meeting's row: of two hosts admitting one user at once,
-- the second finds nobody waiting (404).
CREATE OR REPLACE FUNCTION mm_waiting_admit(p_meeting bigint, p_user bigint, p_gen bigint,
                                            p_target bigint) RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF (mm_lock_meeting(p_meeting)).meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    n := mm_waiting_admit_users(p_meeting, p_target);
    IF p_target IS NOT NULL AND n = 0 THEN
        RETURN mm_not_waiting();
    END IF;
    RETURN mm_ok(200, CASE WHEN p_target IS NULL
                           THEN json_build_object('admitted', n) END);
END
$$;

-- Denies p_target: a removal (SPEC.md 3.12), remembered until re-added.
CREATE OR REPLACE FUNCTION mm_waiting_deny(p_meeting bigint, p_user bigint, p_gen bigint,
                                           p_target bigint) RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF (mm_lock_meeting(p_meeting)).meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    UPDATE participants SET removed_at = now(), waiting_since = NULL
     WHERE meeting_id = p_meeting AND user_id = p_target
       AND waiting_since IS NOT NULL AND removed_at IS NULL;
    IF NOT FOUND THEN
        RETURN mm_not_waiting();
    END IF;
    PERFORM mm_notify('waiting-left', p_meeting,
                      jsonb_build_object('user_id', p_target, 'reason', 'denied'));
    RETURN mm_ok(200);
END
$$;

------------------------------------------------------------------------------
-- Chat

-- How many messages a meeting has (see message_counts in 001_schema.sql).
CREATE OR REPLACE FUNCTION mm_message_total(p_meeting bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT message_count FROM meetings WHERE meeting_id = p_meeting)
         + coalesce((SELECT sum(n) FROM message_counts WHERE meeting_id = p_meeting), 0)::bigint
$$;

-- A page of chat, newest first. Its LIMIT and OFFSET are parameters of the
-- plans PL/pgSQL caches; with them unknown PostgreSQL's cost guess makes any
-- generic plan look dearer than a plan made for the values at hand, so it
-- would plan this query again on every call (~250 us). The generic plan is
-- forced instead, and the query is written so that it is the right plan for
-- any page: the page's first message is found by skipping the pages before it
-- in the messages_page index alone (no heap visits), the page is read from
-- there in index order, and each message's username is one index lookup.
-- The same guess (a tenth of a million-message meeting) puts the generic
-- plan's cost above jit_above_cost: JIT would compile it on every call (~7 ms).
CREATE OR REPLACE FUNCTION mm_message_list(p_meeting bigint, p_user bigint, p_gen bigint,
                                           p_page integer, p_size integer) RETURNS mm_result
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET jit = off AS $$
BEGIN
    RETURN mm_ok(200, json_build_object(
        'messages', coalesce((
            SELECT array_to_json(array_agg(
                       (g.message_id, g.user_id,
                        (SELECT username FROM users u WHERE u.user_id = g.user_id),
                        g.content, mm_ts(g.created_at))::mm_message_item
                       ORDER BY g.created_at DESC, g.message_id DESC))
              FROM (SELECT * FROM messages
                     WHERE meeting_id = p_meeting AND (created_at, message_id) <= (
                           SELECT created_at, message_id FROM messages
                            WHERE meeting_id = p_meeting
                            ORDER BY created_at DESC, message_id DESC
                            LIMIT 1 OFFSET (p_page - 1)::bigint * p_size)
                     ORDER BY created_at DESC, message_id DESC LIMIT p_size) g), '[]'::json),
        'total', mm_message_total(p_meeting), 'page', p_page, 'page_size', p_size));
END
$$;

-- p_content is already trimmed and length-checked by the module. One
-- statement, one transaction: the checks (token, meeting, membership: one
-- read), the message, its count, the webhook event and the room's event.
-- The meeting's row is read, not locked: a send whose statement began before
-- an end or a settings change committed is taken as sent before it, so sends
-- do not queue on a busy meeting's row.
--
-- The room's event (the chat frame) goes to the signald of the node whose
-- sockets hold the room. p_node is the node the module runs as, when its own
-- signald takes events over its local socket (NULL: it has none). When the
-- meeting is placed on that node, or on none (no socket holds its room
-- anywhere: every seat is taken on the meeting's node), the event is
-- returned in room_event and the module hands it over after the commit, so
-- the send takes no NOTIFY: a notifying commit takes PostgreSQL's
-- database-wide notification lock, which queued concurrent sends one
-- behind the other (docs/benchmarks.md). Otherwise (a meeting placed on
-- another node) it is NOTIFYed here, as every other room event is, and
-- room_event is NULL. Either way only a committed message is announced.
CREATE OR REPLACE FUNCTION mm_message_send(p_meeting bigint, p_user bigint, p_gen bigint,
                                           p_content text, p_node text,
                                           OUT result mm_result, OUT room_event text)
LANGUAGE plpgsql AS $$
DECLARE
    a record;
    msg messages;
    ev text;
BEGIN
    -- The sender's name for the room comes with the access check (one
    -- statement, not two).
    SELECT x.token_ok, x.meeting, x.role, u.username INTO a
      FROM mm_access(p_meeting, p_user, p_gen) x LEFT JOIN users u ON u.user_id = p_user;
    result := mm_verdict(a.token_ok, a.meeting, a.role, p_user, 0);
    IF result.code <> 200 THEN
        RETURN;
    END IF;
    IF NOT (a.meeting).enable_chat THEN
        result := mm_fail(403, 'forbidden', 'chat is turned off for this meeting');
        RETURN;
    END IF;
    IF (a.meeting).status NOT IN ('scheduled', 'ongoing') THEN
        result := mm_fail(409, 'conflict', 'a meeting that is ' || (a.meeting).status
                                           || ' takes no more messages');
        RETURN;
    END IF;
    INSERT INTO messages (meeting_id, user_id, content) VALUES (p_meeting, p_user, p_content)
    RETURNING * INTO msg;
    -- The stripe's row exists after the session's first send to the meeting:
    -- a plain (HOT) update is cheaper than the upsert's speculative insert.
    UPDATE message_counts SET n = n + 1
     WHERE meeting_id = p_meeting AND stripe = pg_backend_pid() % 16;
    IF NOT FOUND THEN
        INSERT INTO message_counts AS c (meeting_id, stripe, n)
        VALUES (p_meeting, pg_backend_pid() % 16, 1)
        ON CONFLICT (meeting_id, stripe) DO UPDATE SET n = c.n + 1;
    END IF;
    -- The event is built only when a webhook of the creator's wants it (most
    -- meetings have none: a sixth of a send's time went to building it).
    IF EXISTS (SELECT 1 FROM webhooks h WHERE h.owner_id = (a.meeting).creator_id
                  AND h.enabled AND 'chat.message' = ANY (h.events)) THEN
        PERFORM mm_webhook_emit(p_meeting, 'chat.message', jsonb_build_object(
            'message_id', msg.message_id, 'user_id', msg.user_id, 'content', msg.content,
            'timestamp', mm_ts(msg.created_at)));
    END IF;
    -- mm_notify's event, built as json text directly (no jsonb round trip),
    -- its keys in the order jsonb gave them, so the room's frames stay the same.
    ev := json_build_object(
        'type', 'chat', 'content', msg.content, 'user_id', msg.user_id,
        'username', a.username, 'timestamp', mm_ts(msg.created_at),
        'meeting_id', p_meeting, 'message_id', msg.message_id)::text;
    IF p_node IS NULL OR (a.meeting).node_id <> p_node THEN
        PERFORM pg_notify('meeting_events', ev);
    ELSE
        room_event := ev;
    END IF;
    result := mm_ok(200, json_build_object('message_id', msg.message_id,
                                           'timestamp', mm_ts(msg.created_at)));
END
$$;

------------------------------------------------------------------------------
-- Recordings

-- p_raw_dir: where the SFU writes this recording's streams ('' when the
-- client records and uploads); p_keep_raw keeps them after processing.
CREATE OR REPLACE FUNCTION mm_recording_start(p_meeting bigint, p_user bigint, p_gen bigint,
                                              p_id text, p_raw_dir text, p_keep_raw boolean)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
BEGIN
    m := mm_lock_meeting(p_meeting);
    IF m.meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    IF NOT m.enable_recording THEN
        RETURN mm_fail(403, 'forbidden', 'recording is turned off for this meeting');
    END IF;
    IF m.status <> 'ongoing' THEN
        RETURN mm_fail(409, 'conflict', 'only an ongoing meeting can be recorded');
    END IF;
    IF EXISTS (SELECT 1 FROM recordings WHERE meeting_id = p_meeting AND status = 'recording')
    THEN
        RETURN mm_fail(409, 'conflict', 'a recording is already running');
    END IF;
    INSERT INTO recordings (recording_id, meeting_id, started_by, source, raw_dir, keep_raw)
    VALUES (p_id, p_meeting, p_user, CASE WHEN p_raw_dir <> '' THEN 'server' ELSE 'upload' END,
            nullif(p_raw_dir, ''), p_keep_raw);
    IF p_raw_dir <> '' THEN
        PERFORM mm_notify('sfu-record', p_meeting,
                          jsonb_build_object('recording_id', p_id, 'record', true,
                                             'rec_dir', p_raw_dir));
    END IF;
    PERFORM mm_notify('recording-started', p_meeting, jsonb_build_object('recording_id', p_id));
    PERFORM mm_webhook_emit(p_meeting, 'recording.started',
                            jsonb_build_object('recording_id', p_id));
    RETURN mm_ok(200, json_build_object('recording_id', p_id));
END
$$;

CREATE OR REPLACE FUNCTION mm_recording_stop(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    IF (mm_lock_meeting(p_meeting)).meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    IF NOT mm_recording_finish(p_meeting) THEN
        RETURN mm_fail(409, 'conflict', 'no recording is running');
    END IF;
    RETURN mm_ok(200);
END
$$;

CREATE OR REPLACE FUNCTION mm_recording_list(p_meeting bigint, p_user bigint, p_gen bigint)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN mm_ok(200, json_build_object('recordings', coalesce((
        SELECT json_agg(json_build_object(
                   'recording_id', recording_id, 'meeting_id', meeting_id, 'status', status,
                   'duration', CASE WHEN status = 'recording'
                                    THEN greatest(0, extract(epoch FROM now() - created_at))::integer
                                    ELSE duration END,
                   'size', size, 'content_type', content_type,
                   'created_at', mm_ts(created_at), 'source', source)::jsonb
                   || CASE WHEN status = 'failed'
                           THEN jsonb_build_object('reason', coalesce(reason, 'failed'))
                           ELSE '{}'::jsonb END
                   ORDER BY created_at DESC, recording_id)
          FROM recordings WHERE meeting_id = p_meeting), '[]'::json)));
END
$$;

CREATE OR REPLACE FUNCTION mm_no_recording() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT mm_fail(404, 'not_found', 'recording not found', 'recording_id')
$$;

-- The recording a file request names: 404 (field recording_id) when it is
-- not in this meeting. data: {"content_type": ...} of the stored file.
CREATE OR REPLACE FUNCTION mm_recording_file(p_meeting bigint, p_user bigint, p_gen bigint,
                                             p_need integer, p_id text) RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r mm_result := mm_context(p_meeting, p_user, p_gen, p_need);
    ct text;
    src text;
BEGIN
    IF r.code <> 200 THEN
        RETURN r;
    END IF;
    SELECT content_type, source INTO ct, src FROM recordings
     WHERE recording_id = p_id AND meeting_id = p_meeting;
    IF NOT FOUND THEN
        RETURN mm_no_recording();
    END IF;
    IF p_need = 1 AND src = 'server' THEN
        RETURN mm_fail(409, 'conflict', 'the server records this recording; it takes no upload');
    END IF;
    RETURN mm_ok(200, json_build_object('content_type', ct));
END
$$;

-- An uploaded file's size and type; 404 when the recording went meanwhile
-- (its meeting was deleted while the file streamed in).
CREATE OR REPLACE FUNCTION mm_recording_stored(p_meeting bigint, p_id text, p_size bigint,
                                               p_type text) RETURNS mm_result
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recordings SET size = p_size, content_type = p_type
     WHERE recording_id = p_id AND meeting_id = p_meeting;
    IF NOT FOUND THEN
        RETURN mm_no_recording();
    END IF;
    RETURN mm_ok(200);
END
$$;

------------------------------------------------------------------------------
-- Recording jobs: the worker's side (mod_meeting/recworker). Every function
-- but the claim takes the attempt it was given, so a worker whose lease ran
-- out (and whose job another claimed) changes nothing.

-- The next due job, claimed: a queued one whose back-off is over, or a
-- running one whose lease ran out. A job out of attempts fails its recording
-- instead. Returns no row when nothing is due.
CREATE OR REPLACE FUNCTION mm_job_claim(p_worker text, p_lease integer, p_max_attempts integer)
RETURNS TABLE (recording_id text, raw_dir text, keep_raw boolean, attempt integer,
               stopped_secs integer)
LANGUAGE plpgsql AS $$
DECLARE
    j recording_jobs;
BEGIN
    LOOP
        SELECT * INTO j FROM recording_jobs rj
         WHERE (rj.state = 'queued' AND rj.run_after <= now())
            OR (rj.state = 'running' AND rj.lease_until < now())
         ORDER BY rj.run_after
         LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF j.recording_id IS NULL THEN
            RETURN;
        END IF;
        EXIT WHEN j.attempts < p_max_attempts;
        PERFORM mm_job_end(j.recording_id, 'failed',
                           format('processing failed %s times; last: %s', j.attempts,
                                  coalesce(j.last_error, 'the worker stopped')));
    END LOOP;
    UPDATE recording_jobs rj SET state = 'running', attempts = rj.attempts + 1,
           lease_until = now() + make_interval(secs => p_lease), worker = p_worker,
           updated_at = now()
     WHERE rj.recording_id = j.recording_id;
    RETURN QUERY SELECT r.recording_id, r.raw_dir, r.keep_raw, j.attempts + 1,
                        extract(epoch FROM now() - coalesce(r.stopped_at, now()))::integer
                   FROM recordings r WHERE r.recording_id = j.recording_id;
END
$$;

-- Ends a job and its recording: 'failed' with p_reason, or 'done' (the
-- recording then completed by mm_job_done).
CREATE OR REPLACE FUNCTION mm_job_end(p_id text, p_state text, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m bigint;
BEGIN
    UPDATE recording_jobs SET state = p_state, lease_until = NULL, last_error = p_reason,
           updated_at = now()
     WHERE recording_id = p_id;
    IF p_state = 'failed' THEN
        UPDATE recordings SET status = 'failed', reason = left(p_reason, 500)
         WHERE recording_id = p_id
        RETURNING meeting_id INTO m;
        PERFORM mm_webhook_emit(m, 'recording.failed', jsonb_build_object(
            'recording_id', p_id, 'reason', left(p_reason, 500)));
    END IF;
END
$$;

-- Whether this worker's claim (p_attempt) still holds the job.
CREATE OR REPLACE FUNCTION mm_job_held(p_id text, p_worker text, p_attempt integer)
RETURNS boolean
LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1 FROM recording_jobs
                    WHERE recording_id = p_id AND state = 'running' AND worker = p_worker
                      AND attempts = p_attempt)
$$;

-- Extends the lease; false when the job is no longer this worker's.
CREATE OR REPLACE FUNCTION mm_job_renew(p_id text, p_worker text, p_attempt integer,
                                        p_lease integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recording_jobs SET lease_until = now() + make_interval(secs => p_lease),
           updated_at = now()
     WHERE recording_id = p_id AND state = 'running' AND worker = p_worker
       AND attempts = p_attempt;
    RETURN FOUND;
END
$$;

-- The file is in place: the recording is completed with what it holds.
CREATE OR REPLACE FUNCTION mm_job_done(p_id text, p_worker text, p_attempt integer,
                                       p_duration integer, p_size bigint, p_type text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m bigint;
BEGIN
    IF NOT mm_job_held(p_id, p_worker, p_attempt) THEN
        RETURN false;
    END IF;
    PERFORM mm_job_end(p_id, 'done', NULL);
    UPDATE recordings SET status = 'completed', duration = p_duration, size = p_size,
           content_type = p_type, reason = NULL
     WHERE recording_id = p_id
    RETURNING meeting_id INTO m;
    PERFORM mm_webhook_emit(m, 'recording.completed', jsonb_build_object(
        'recording_id', p_id, 'duration', p_duration, 'size', p_size));
    RETURN true;
END
$$;

-- A failure that another attempt will not mend (no media, no disk space).
CREATE OR REPLACE FUNCTION mm_job_fail(p_id text, p_worker text, p_attempt integer,
                                       p_reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT mm_job_held(p_id, p_worker, p_attempt) THEN
        RETURN false;
    END IF;
    PERFORM mm_job_end(p_id, 'failed', p_reason);
    RETURN true;
END
$$;

-- Back to the queue: after a failed attempt (p_counted, back-off doubling
-- from p_delay), or because the SFU is still writing (not counted).
CREATE OR REPLACE FUNCTION mm_job_retry(p_id text, p_worker text, p_attempt integer,
                                        p_error text, p_delay integer, p_counted boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recording_jobs
       SET state = 'queued', lease_until = NULL, worker = NULL,
           attempts = attempts - CASE WHEN p_counted THEN 0 ELSE 1 END,
           last_error = coalesce(left(p_error, 500), last_error),
           run_after = now() + make_interval(secs => CASE WHEN p_counted
                           THEN least(p_delay * 2 ^ (attempts - 1), 600) ELSE p_delay END),
           updated_at = now()
     WHERE recording_id = p_id AND state = 'running' AND worker = p_worker
       AND attempts = p_attempt;
    RETURN FOUND;
END
$$;

------------------------------------------------------------------------------
-- Safe retries and concurrent edits (SPEC.md 9)

-- How long an Idempotency-Key's answer is kept.
CREATE OR REPLACE FUNCTION mm_idem_ttl() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '24 hours' $$;

-- Claims p_key of p_user for a request (method, path, SHA-256 of its body),
-- first thing in the transaction that will run it. outcome: 'revoked' (the
-- token no longer holds), 'busy' (a request with the key is running: its
-- transaction holds the key's advisory lock, which is tried, never waited
-- for), 'mismatch' (the key answered another request), 'replay' (with the
-- stored status and response) or 'run': the caller runs the request and
-- stores its answer with mm_idem_store before it commits, which releases
-- the lock. A run also deletes a few expired keys: no cron job needed.
CREATE OR REPLACE FUNCTION mm_idem_claim(p_user bigint, p_gen bigint, p_key text,
                                         p_method text, p_path text, p_hash text,
                                         OUT outcome text, OUT status integer,
                                         OUT response text)
LANGUAGE plpgsql AS $$
DECLARE
    k idempotency_keys;
BEGIN
    IF mm_token_revoked(p_user, p_gen) THEN
        outcome := 'revoked';
        RETURN;
    END IF;
    -- Two keys: a lock space of its own, apart from other advisory locks.
    IF NOT pg_try_advisory_xact_lock(hashtext('mm_idempotency_key'),
                                     hashtext(p_user || ':' || p_key)) THEN
        outcome := 'busy';
        RETURN;
    END IF;
    -- A statement after the lock: it sees what the key's last holder committed.
    SELECT * INTO k FROM idempotency_keys
     WHERE user_id = p_user AND key = p_key AND created_at > now() - mm_idem_ttl();
    IF NOT FOUND THEN
        DELETE FROM idempotency_keys d USING (
            SELECT user_id, key FROM idempotency_keys
             WHERE created_at <= now() - mm_idem_ttl()
             ORDER BY created_at LIMIT 8 FOR UPDATE SKIP LOCKED) old
         WHERE d.user_id = old.user_id AND d.key = old.key;
        outcome := 'run';
    ELSIF k.method <> p_method OR k.path <> p_path OR k.body_sha256 <> p_hash THEN
        outcome := 'mismatch';
    ELSE
        outcome := 'replay';
        status := k.status;
        response := k.response;
    END IF;
END
$$;

-- Stores the answer of a request that claimed p_key ('run'), in its
-- transaction; an expired row of the same key is replaced.
CREATE OR REPLACE FUNCTION mm_idem_store(p_user bigint, p_key text, p_method text,
                                         p_path text, p_hash text, p_status integer,
                                         p_response text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idempotency_keys (user_id, key, method, path, body_sha256, status, response)
    VALUES (p_user, p_key, p_method, p_path, p_hash, p_status, p_response)
    ON CONFLICT (user_id, key) DO UPDATE
       SET method = excluded.method, path = excluded.path,
           body_sha256 = excluded.body_sha256, status = excluded.status,
           response = excluded.response, created_at = excluded.created_at;
END
$$;

-- A meeting's strong ETag: SHA-256 of its detail reply's data (the text
-- mm_meeting_get answers), so it changes exactly when that reply would. The
-- module hashes the same text for GET (etag.c's mm_etag_of).
CREATE OR REPLACE FUNCTION mm_meeting_etag(m meetings) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '"' || encode(sha256(convert_to(mm_meeting_json(m)::text, 'UTF8')), 'hex') || '"'
$$;

-- Whether an If-Match holds for meeting m. p_if_match: NULL (no If-Match),
-- '*', or the strong tags of the header joined by commas (etag.c).
CREATE OR REPLACE FUNCTION mm_etag_matches(m meetings, p_if_match text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_if_match IS NULL OR p_if_match = '*'
        OR mm_meeting_etag(m) = ANY (string_to_array(p_if_match, ','))
$$;

CREATE OR REPLACE FUNCTION mm_precondition_failed() RETURNS mm_result
LANGUAGE sql IMMUTABLE AS $$
    SELECT mm_fail(412, 'precondition_failed',
                   'the meeting has changed since the ETag in If-Match; read it again')
$$;

-- For the answers an update or delete gives before its action (a refused
-- body): 412 unless the If-Match holds now (200 when the meeting is gone).
CREATE OR REPLACE FUNCTION mm_meeting_if_match(p_meeting bigint, p_if_match text)
RETURNS mm_result
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF coalesce((SELECT mm_etag_matches(m, p_if_match) FROM meetings m
                  WHERE m.meeting_id = p_meeting), true) THEN
        RETURN mm_ok(200);
    END IF;
    RETURN mm_precondition_failed();
END
$$;

-- mm_meeting_update under an If-Match: checked under the meeting's row lock,
-- after 401/404/403 and before the update's own 400/409 (SPEC.md 9). data:
-- the meeting's detail after the update, whose hash is the reply's ETag.
CREATE OR REPLACE FUNCTION mm_meeting_update_if(p_meeting bigint, p_user bigint, p_gen bigint,
                                                p_patch jsonb, p_if_match text)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    r mm_result;
    m meetings;
BEGIN
    m := mm_lock_meeting(p_meeting);
    IF m.meeting_id IS NULL THEN
        RETURN mm_no_meeting();
    END IF;
    IF NOT mm_etag_matches(m, p_if_match) THEN
        RETURN mm_precondition_failed();
    END IF;
    r := mm_meeting_update(p_meeting, p_user, p_gen, p_patch);
    IF r.code = 200 THEN
        SELECT * INTO m FROM meetings WHERE meeting_id = p_meeting;
        r.data := mm_meeting_json(m)::text;
    END IF;
    RETURN r;
END
$$;

-- mm_meeting_delete under an If-Match, checked under the row lock the delete
-- takes (FOR UPDATE), after 401/404/403 and before its 409.
CREATE OR REPLACE FUNCTION mm_meeting_delete_if(p_meeting bigint, p_user bigint, p_gen bigint,
                                                p_if_match text)
RETURNS mm_result
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
BEGIN
    IF p_if_match IS NULL THEN
        RETURN mm_meeting_delete(p_meeting, p_user, p_gen);
    END IF;
    SELECT * INTO m FROM meetings WHERE meeting_id = p_meeting FOR UPDATE;
    IF NOT FOUND THEN
        RETURN mm_no_meeting();
    END IF;
    IF NOT mm_etag_matches(m, p_if_match) THEN
        RETURN mm_precondition_failed();
    END IF;
    RETURN mm_meeting_delete(p_meeting, p_user, p_gen);
END
$$;
