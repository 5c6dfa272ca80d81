/*
 * signald: recording on the SFU (SPEC 7, docs/recordings.md). While a server
 * recording of a meeting is `recording`, the meeting's VideoRoom records
 * every publisher (one .mjr per stream) into the recording's raw folder:
 * signald gives Janus the folder (`edit` new_rec_dir) and turns the room's
 * recording on (`enable_recording`); Janus then records everyone who
 * publishes later too, and closes a publisher's files when it leaves. The
 * stop turns it off. What the room should do comes from the sfu-record
 * events, and from the recordings table whenever the room is (re)made
 * (Janus or signald restarted) and every few seconds (an event missed while
 * the LISTEN connection was away). Requests to Janus go one at a time per
 * meeting, so a stop and the next start never overtake each other.
 */
#ifndef SD_SFU_RECORD_H
#define SD_SFU_RECORD_H

#include <jansson.h>
#include <libwebsockets.h>

#include "pq.h"

/* db: signald's query connection, for the recordings of its rooms. */
void sd_sfu_record_start(struct lws_context *ctx, sd_db *db);
void sd_sfu_record_stop(void);

/* An sfu-record event {record, rec_dir} of the meeting. */
void sd_sfu_record_event(long long meeting_id, json_t *ev);

/* The meeting's VideoRoom was (re)created at Janus: what it records is
 * unknown until the table says. */
void sd_sfu_record_room_ready(long long meeting_id);

#endif
