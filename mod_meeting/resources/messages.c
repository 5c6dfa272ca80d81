/* Chat (seed 3.17-3.18): list a page of messages, send one. */
#include "auth.h"
#include "action.h"
#include "precedence.h"
#include "room_events.h"

#define MAX_CONTENT 1000

mm_step mm_messages_list(mm_req *q)
{
    const char *args[5];
    long page, size;

    if (mm_list_page(q, 50, &page, &size))
        return MM_ANSWERED;
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_ltoa(q->r->pool, page);
    args[4] = apr_ltoa(q->r->pool, size);
    return mm_meeting_call(q, S_MESSAGE_LIST, 5, args, NULL);
}

mm_step mm_messages_send(mm_req *q)
{
    json_t *body, *content;
    const char *text, *args[5], *event;
    size_t start, len;
    mm_result res;

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    content = json_object_get(body, "content");
    text = json_string_value(content);
    len = mm_utf8_trim(text, json_string_length(content), &start);
    if (len == 0 || mm_utf8_length(text + start, len) > MAX_CONTENT)
        return mm_field_refused(q, "content",
                                "content must be 1 to 1000 characters long after trimming");
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_pstrmemdup(q->r->pool, text + start, len);
    args[4] = mm_room_events_node();
    /* The room hears of the message once it is committed: from this node's
     * signald, handed the event after the commit (under an Idempotency-Key,
     * the commit that stores the answer), or from the NOTIFY the statement
     * made when the meeting lives on another node. */
    if (mm_db_result_more(q, S_MESSAGE_SEND, 5, args, &res, &event, 1))
        return MM_ANSWERED;
    mm_room_events_tell(q, event);
    return mm_reply_result(q, &res, "Message sent successfully");
}
