/*
 * A node's identity when more than one node serves the API (SPEC.md 10,
 * docs/cluster.md): its name in the node registry and the public signaling
 * URL its rooms are reached at. Pure (libc only): the module checks both at
 * configtest (MeetingNodeName, MeetingNodeSignalingURL), signald again on
 * its command line (--node, --node-url).
 */
#ifndef MM_NODE_NAME_H
#define MM_NODE_NAME_H

#include <stddef.h>

/* Longest node name, and longest node URL: a 4307 close carries the URL as
 * its reason, and a close reason holds at most 123 bytes. */
#define MM_NODE_NAME_MAX 63
#define MM_NODE_URL_MAX 120

/* Whether name is 1 to 63 of A-Z a-z 0-9 . _ - (what the nodes table's
 * CHECK takes). Returns NULL or why not. */
const char *mm_node_name_check(const char *name);

/* Whether url is ws:// or wss:// with a host, at most MM_NODE_URL_MAX bytes
 * of printable ASCII, without a fragment (a query may name the node for the
 * load balancer: room_url then goes on with '&'). Returns NULL or why not. */
const char *mm_node_url_check(const char *url);

/* The default name: the host name up to its first dot, characters a name may
 * not hold turned into '-', "node" when there is none. */
void mm_node_default_name(char buf[MM_NODE_NAME_MAX + 1]);

#endif
