/* CORS for browser clients on other origins (MeetingCORSOrigin). */
#ifndef MM_CORS_H
#define MM_CORS_H

#include "reply.h"

/* Answers a preflight (OPTIONS with Access-Control-Request-Method) for an
 * allowed origin and a known route with 204: returns MM_ANSWERED. Otherwise adds
 * the CORS headers an allowed origin needs and returns 0. */
int mm_cors(mm_req *q, const char *path);

#endif
