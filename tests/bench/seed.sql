-- Benchmark data set, written straight into the tables with generate_series
-- (not through the API), in one transaction, on a freshly migrated database.
-- Run as the superuser: foreign-key triggers are skipped while loading
-- (session_replication_role = replica); every reference is made valid here.
--
--   users          1..10000        password "bench-password", one precomputed
--                                  hash of cost 10 (the default; login pays
--                                  it), in the pre-hashed form of accounts.c
--                                  ($mm1: bcrypt of its HMAC-SHA256, base64)
--   meetings       1..100000       5 participants each (the first is the host
--                                  and creator); every user is in exactly 50
--   meeting        100001          the chat meeting: 1,000,000 messages,
--                                  members users 1..1000, ongoing
--   meetings       100002..100021  20 big meetings (max_participants 1000),
--                                  1000 members each, ongoing: join/leave
--   meetings       100022..100121  100 signaling rooms, 50 members each
--                                  (users 1..5000 once), ongoing
--
-- message_count is kept consistent with the messages table.

\set ON_ERROR_STOP 1
SET session_replication_role = replica;
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';

BEGIN;

-- CASCADE: and every table that references these (recording jobs, chat
-- counts, webhooks, ...), whichever the schema has by now.
TRUNCATE messages, participants, recordings, refresh_tokens, meetings, users
    RESTART IDENTITY CASCADE;

-- Secondary indexes are dropped while loading and built again afterwards from
-- their own definitions (faster than maintaining them row by row); indexes
-- that back constraints stay.
CREATE TEMP TABLE bench_indexes ON COMMIT DROP AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
  FROM pg_index i
 WHERE i.indrelid IN ('users'::regclass, 'meetings'::regclass, 'participants'::regclass,
                      'messages'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT name FROM bench_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
END $$;

INSERT INTO users (user_id, username, email, password_hash, nickname, created_at, updated_at)
SELECT i, 'bench' || i, 'bench' || i || '@example.com',
       '$mm1$2y$10$nlfLWUbAmmR6NhZymvSDG.WwdgvHRS0aHAYtrHAtcXuM3yiLbS80y',
       'Bench User ' || i, '2025-01-01', '2025-01-01'
  FROM generate_series(1, 10000) AS i;

-- Titles and descriptions from small word lists, so keywords match a few
-- meetings of every user ("retro" is in one title of ten).
INSERT INTO meetings (meeting_id, title, description, start_time, end_time, max_participants,
                      meeting_type, status, creator_id, enable_recording, enable_chat,
                      created_at, updated_at)
SELECT m,
       (ARRAY['Weekly', 'Daily', 'Quarterly', 'Team', 'Project', 'Design', 'Sales',
              'Product', 'Board', 'Hiring'])[m % 10 + 1] || ' '
       || (ARRAY['sync', 'standup', 'review', 'planning', 'retro', 'demo', 'kickoff',
                 'briefing', 'workshop', 'check-in'])[(m / 10) % 10 + 1] || ' #' || m,
       'Agenda: ' || (ARRAY['budget', 'roadmap', 'hiring', 'launch', 'incidents', 'customers',
                            'metrics', 'security'])[m % 8 + 1] || ' and open questions',
       t, t + interval '1 hour', 10, CASE WHEN m % 3 = 0 THEN 'audio' ELSE 'video' END,
       CASE m % 10 WHEN 0 THEN 'ended' WHEN 1 THEN 'ongoing' ELSE 'scheduled' END,
       ((((m - 1) * 5) * 7919) % 10000) + 1, m % 2 = 0, true, t - interval '7 days',
       t - interval '7 days'
  FROM generate_series(1::bigint, 100000) AS m,
       LATERAL (SELECT timestamptz '2025-01-01' + m * interval '7 minutes' AS t) AS s;

-- Member k of meeting m is user ((m-1)*5+k)*7919 mod 10000 + 1: 7919 is prime
-- to 10000, so the five are distinct and every user is in 50 meetings.
INSERT INTO participants (meeting_id, user_id, role, created_at)
SELECT m, ((((m - 1) * 5 + k) * 7919) % 10000) + 1,
       CASE WHEN k = 0 THEN 'host' ELSE 'participant' END, '2025-01-01'
  FROM generate_series(1::bigint, 100000) AS m, generate_series(0, 4) AS k;

-- The chat meeting, the big meetings and the signaling rooms.
INSERT INTO meetings (meeting_id, title, description, start_time, end_time, max_participants,
                      meeting_type, status, creator_id, enable_chat, message_count)
SELECT m,
       CASE WHEN m = 100001 THEN 'All hands chat'
            WHEN m <= 100021 THEN 'Town hall ' || (m - 100001)
            ELSE 'Signaling room ' || (m - 100021) END,
       '', '2025-06-01', '2030-01-01', 1000, 'video', 'ongoing',
       CASE WHEN m = 100001 THEN 1
            WHEN m <= 100021 THEN ((m - 100002) * 1000) % 10000 + 1
            ELSE (m - 100022) * 50 + 1 END,
       true, CASE WHEN m = 100001 THEN 1000000 ELSE 0 END
  FROM generate_series(100001, 100121) AS m;

INSERT INTO participants (meeting_id, user_id, role)
SELECT 100001, u, CASE WHEN u = 1 THEN 'host' ELSE 'participant' END
  FROM generate_series(1, 1000) AS u;

-- Big meeting b (0..19) has users b*1000+1 .. b*1000+1000 (mod 10000).
INSERT INTO participants (meeting_id, user_id, role)
SELECT 100002 + b, ((b * 1000 + j) % 10000) + 1,
       CASE WHEN j = 0 THEN 'host' ELSE 'participant' END
  FROM generate_series(0, 19) AS b, generate_series(0, 999) AS j;

-- Room r (0..99) has users r*50+1 .. r*50+50.
INSERT INTO participants (meeting_id, user_id, role)
SELECT 100022 + r, r * 50 + j + 1, CASE WHEN j = 0 THEN 'host' ELSE 'participant' END
  FROM generate_series(0, 99) AS r, generate_series(0, 49) AS j;

-- A million messages, one a second, from the chat meeting's members.
INSERT INTO messages (meeting_id, user_id, content, created_at)
SELECT 100001, ((i - 1) % 1000) + 1,
       'Message ' || i || ': notes on item ' || (i % 97) || ' of the agenda',
       timestamptz '2025-06-01' + i * interval '1 second'
  FROM generate_series(1, 1000000) AS i;

DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT def FROM bench_indexes LOOP EXECUTE r.def; END LOOP;
END $$;

SELECT setval('users_user_id_seq', 10000);
SELECT setval('meetings_meeting_id_seq', 100121);

COMMIT;

SET session_replication_role = DEFAULT;
VACUUM (ANALYZE) users, meetings, participants, messages;
CHECKPOINT;
