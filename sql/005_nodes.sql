-- More than one node (SPEC.md 10, docs/cluster.md): the node registry's
-- heartbeat, the placement of a meeting on a node, and the seat-taking of
-- signald under that placement. After 002 and 003: it wraps mm_seat_take.

-- Live: heard from within its own dead_after.
CREATE OR REPLACE FUNCTION mm_node_live(n nodes) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT n.seen_at + n.dead_after > now() $$;

-- One heartbeat of signald p_node: its public signaling URL (NULL: the
-- module's own MeetingSignalingURL), its load (open sockets), how long a
-- silence makes it dead, and the meetings it holds rooms for. Answers those
-- of p_rooms that are now placed on another node (it was thought dead and
-- they moved), with that node's URL: signald closes their sockets with 4307.
CREATE OR REPLACE FUNCTION mm_node_beat(p_node text, p_url text, p_load integer,
    p_dead_after integer, p_rooms bigint[])
RETURNS TABLE (meeting_id bigint, signaling_url text)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO nodes AS n (node_id, signaling_url, load, dead_after, seen_at)
    VALUES (p_node, p_url, p_load, make_interval(secs => p_dead_after), now())
    ON CONFLICT (node_id) DO UPDATE
       SET signaling_url = EXCLUDED.signaling_url, load = EXCLUDED.load,
           dead_after = EXCLUDED.dead_after, seen_at = EXCLUDED.seen_at;
    RETURN QUERY
        SELECT m.meeting_id, o.signaling_url
          FROM meetings m LEFT JOIN nodes o ON o.node_id = m.node_id
         WHERE m.meeting_id = ANY (p_rooms) AND m.node_id IS DISTINCT FROM p_node
           AND m.node_id IS NOT NULL;
END
$$;

-- The node a meeting's sockets go to, placing it when it has none or its
-- node is dead: the least-loaded live node that is not draining (a new
-- placement counts as one more on its load until that node's next beat, so
-- a burst of starts spreads). placed: a live node holds it; url: that node's
-- signaling URL (NULL: the module's own). No live node at all (signald not
-- running, or not yet): placed is false and the meeting stays as it is.
CREATE OR REPLACE FUNCTION mm_meeting_place(p_meeting bigint,
    OUT placed boolean, OUT url text)
LANGUAGE plpgsql AS $$
DECLARE
    m record;
    pick nodes;
BEGIN
    FOR attempt IN 1..3 LOOP
        -- The meeting and its node, if that one is live, in one read.
        SELECT mt.node_epoch, coalesce(mm_node_live(o), false) AS live, o.signaling_url INTO m
          FROM meetings mt LEFT JOIN nodes o ON o.node_id = mt.node_id
         WHERE mt.meeting_id = p_meeting;
        IF NOT FOUND THEN
            placed := false;
            RETURN;
        END IF;
        IF m.live THEN
            placed := true;
            url := m.signaling_url;
            RETURN;
        END IF;
        SELECT * INTO pick FROM nodes n WHERE mm_node_live(n) AND NOT n.draining
         ORDER BY n.load, n.node_id LIMIT 1;
        IF NOT FOUND THEN
            placed := false;
            RETURN;
        END IF;
        -- Compare-and-set on the epoch: a placement made meanwhile wins.
        UPDATE meetings mt SET node_id = pick.node_id, node_epoch = mt.node_epoch + 1
         WHERE mt.meeting_id = p_meeting AND mt.node_epoch = m.node_epoch;
        IF FOUND THEN
            UPDATE nodes SET load = load + 1 WHERE node_id = pick.node_id;
            placed := true;
            url := pick.signaling_url;
            RETURN;
        END IF;
    END LOOP;
    placed := false;
END
$$;

-- mm_seat_take for signald p_node: when the meeting is ongoing and placed on
-- another live node, code 307 and that node's URL (node_url; '' when it has
-- none) and no seat; when it is placed nowhere or on a dead node, p_node
-- takes it over (the epoch grows) and the seat is taken as mm_seat_take does.
CREATE OR REPLACE FUNCTION mm_seat_take_on(p_meeting bigint, p_user bigint, p_gen bigint,
    p_node text,
    OUT code integer, OUT participant_id bigint, OUT role text,
    OUT username text, OUT nickname text, OUT settings text,
    OUT audio_enabled boolean, OUT video_enabled boolean, OUT node_url text)
LANGUAGE plpgsql AS $$
DECLARE
    m meetings;
    o nodes;
BEGIN
    SELECT * INTO m FROM meetings WHERE meeting_id = p_meeting FOR NO KEY UPDATE;
    IF FOUND AND m.status = 'ongoing' AND m.node_id IS DISTINCT FROM p_node THEN
        SELECT * INTO o FROM nodes WHERE node_id = m.node_id;
        IF FOUND AND mm_node_live(o) THEN
            code := 307;
            node_url := coalesce(o.signaling_url, '');
            RETURN;
        END IF;
        UPDATE meetings SET node_id = p_node, node_epoch = node_epoch + 1
         WHERE meetings.meeting_id = p_meeting;
    END IF;
    SELECT t.code, t.participant_id, t.role, t.username, t.nickname, t.settings,
           t.audio_enabled, t.video_enabled
      INTO code, participant_id, role, username, nickname, settings,
           audio_enabled, video_enabled
      FROM mm_seat_take(p_meeting, p_user, p_gen) t;
END
$$;
