-- Seats: "online is a lease". A participant is online while lease_until is in
-- the future. Join (REST) and signald take a seat under the capacity rule,
-- signald renews the leases of live sockets, and a seat comes back by itself
-- when its lease runs out. Seat taking is serialised per meeting by a row lock
-- on the meeting, so N concurrent takers for M free seats admit exactly M.

CREATE OR REPLACE FUNCTION mm_lease() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '90 seconds' $$;

-- Online participants of a meeting, as the capacity rule counts them.
-- The functions here are PL/pgSQL, not SQL, even when their body is one
-- statement: a SQL function that cannot be inlined (a FROM clause, a data
-- change) is parsed and planned again on every call, PL/pgSQL keeps its plans
-- for the session.
CREATE OR REPLACE FUNCTION mm_online_count(p_meeting bigint) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*)::integer FROM participants
             WHERE meeting_id = p_meeting AND removed_at IS NULL AND lease_until > now());
END
$$;

-- The ticket's token generation became a third argument (an older signald's
-- two-argument call must fail, not seat a logged-out user), and the answer
-- grew the meeting's settings and the newcomer's starting media: a function's
-- OUT columns cannot be changed in place, so a three-argument version
-- without them goes too.
DROP FUNCTION IF EXISTS mm_seat_take(bigint, bigint);
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'mm_seat_take' AND pronargs = 3
                AND NOT ('settings' = ANY (proargnames))) THEN
        DROP FUNCTION mm_seat_take(bigint, bigint, bigint);
    END IF;
END $$;

-- Takes (or keeps) the seat of p_user in p_meeting for one lease; p_gen is
-- the token generation the ticket was issued under.
-- code: 200 seated, 202 waiting for admission (no seat taken), 401 the
-- ticket's generation is gone (a log-out since), 403 not a member (or
-- removed), 410 meeting gone or not ongoing, 429 meeting full.
-- Hosts are never refused for capacity. settings: the meeting's five
-- settings (JSON); audio_enabled: the newcomer's starting microphone
-- (mute_on_join mutes participants, not hosts or moderators); video_enabled:
-- whether the meeting has video.
CREATE OR REPLACE FUNCTION mm_seat_take(p_meeting bigint, p_user bigint, p_gen bigint,
    OUT code integer, OUT participant_id bigint, OUT role text,
    OUT username text, OUT nickname text, OUT settings text,
    OUT audio_enabled boolean, OUT video_enabled boolean)
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    p participants%ROWTYPE;
BEGIN
    -- mm_token_revoked is in 003_api.sql: resolved when called, not here.
    IF mm_token_revoked(p_user, p_gen) THEN
        code := 401;
        RETURN;
    END IF;
    SELECT * INTO m FROM meetings WHERE meeting_id = p_meeting FOR NO KEY UPDATE;
    IF NOT FOUND OR m.status <> 'ongoing' THEN
        code := 410;
        RETURN;
    END IF;
    SELECT * INTO p FROM participants
     WHERE participants.meeting_id = p_meeting AND participants.user_id = p_user;
    IF NOT FOUND OR p.removed_at IS NOT NULL THEN
        code := 403;
        RETURN;
    END IF;
    SELECT p.participant_id, p.role, u.username, u.nickname, mm_settings_json(m)::text,
           NOT (m.mute_on_join AND p.role = 'participant'), m.meeting_type = 'video'
      INTO participant_id, role, username, nickname, settings, audio_enabled, video_enabled
      FROM users u WHERE u.user_id = p_user;
    IF p.waiting_since IS NOT NULL THEN
        code := 202;
        RETURN;
    END IF;
    IF (p.lease_until IS NULL OR p.lease_until <= now()) AND p.role <> 'host'
       AND mm_online_count(p_meeting) >= m.max_participants THEN
        code := 429;
        RETURN;
    END IF;
    UPDATE participants
       SET lease_until = now() + mm_lease(),
           joined_at = CASE WHEN p.lease_until > now() THEN participants.joined_at
                            ELSE date_trunc('second', now()) END,
           left_at = NULL
     WHERE participants.participant_id = p.participant_id;
    IF NOT coalesce(p.lease_until > now(), false) THEN
        PERFORM mm_webhook_online(p);
    END IF;
    code := 200;
END
$$;

-- Renews the leases of live signaling sockets, in one statement for a batch:
-- p_meetings[i] and p_users[i] name one seat. Seats of removed members and of
-- meetings that are no longer ongoing are not renewed. The generic plan is
-- forced: a plan made for the batch at hand (whose size PostgreSQL then
-- knows) always looks cheaper than the generic one, so the statement would
-- be planned again on every call; the generic plan probes both indexes per
-- seat, right for any batch up to signald's 500.
CREATE OR REPLACE FUNCTION mm_seat_renew(p_meetings bigint[], p_users bigint[])
RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n integer;
BEGIN
    UPDATE participants p SET lease_until = now() + mm_lease()
      FROM unnest(p_meetings, p_users) AS s(meeting_id, user_id), meetings m
     WHERE p.meeting_id = s.meeting_id AND p.user_id = s.user_id
       AND p.removed_at IS NULL AND p.lease_until IS NOT NULL
       AND m.meeting_id = p.meeting_id AND m.status = 'ongoing';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Gives a seat back (leave, or a closed socket whose grace period ran out).
-- Returns true when the user was online (and then tells webhooks they left).
CREATE OR REPLACE FUNCTION mm_seat_release(p_meeting bigint, p_user bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    released boolean;
BEGIN
    UPDATE participants SET lease_until = NULL, left_at = date_trunc('second', now())
     WHERE meeting_id = p_meeting AND user_id = p_user AND lease_until > now();
    released := FOUND;
    IF released THEN
        PERFORM mm_webhook_emit(p_meeting, 'participant.left',
                                jsonb_build_object('user_id', p_user));
    END IF;
    RETURN released;
END
$$;

-- Control events for signald, sent in the transaction that made the change so
-- only committed changes are heard. Payload: {"type": ..., "meeting_id": ..., ...}.
CREATE OR REPLACE FUNCTION mm_notify(p_type text, p_meeting bigint, p_extra jsonb)
RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('meeting_events',
        (jsonb_build_object('type', p_type, 'meeting_id', p_meeting)
         || coalesce(p_extra, '{}'::jsonb))::text)
$$;

-- Seats whose lease ran out with nobody giving them back (a client that went
-- silent): the webhook sweep tells of them (participant.left) and marks them
-- with left_at.
CREATE INDEX IF NOT EXISTS participants_lapsed ON participants (lease_until)
    WHERE left_at IS NULL AND lease_until IS NOT NULL AND removed_at IS NULL;

-- A waiting user's socket sent leave: they stop waiting (hosts and
-- moderators hear waiting-left, reason "left"). Returns true when they were
-- waiting. A join later makes them wait again, as anyone new.
CREATE OR REPLACE FUNCTION mm_waiting_leave(p_meeting bigint, p_user bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM participants
     WHERE meeting_id = p_meeting AND user_id = p_user
       AND waiting_since IS NOT NULL AND removed_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mm_notify('waiting-left', p_meeting,
                      jsonb_build_object('user_id', p_user, 'reason', 'left'));
    RETURN true;
END
$$;
