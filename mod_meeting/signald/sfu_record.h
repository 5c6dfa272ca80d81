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

#include "context.h"

/* With the SFU on (ctx->sfu, so after sd_sfu_start): asks ctx->db, the
 * query connection, for the recordings of its rooms. -1 when out of memory. */
int sd_sfu_record_start(sd_ctx *ctx);
void sd_sfu_record_stop(sd_ctx *ctx);

/* An sfu-record event {record, rec_dir} of the meeting. */
void sd_sfu_record_event(sd_ctx *ctx, long long meeting_id, json_t *ev);

#endif
