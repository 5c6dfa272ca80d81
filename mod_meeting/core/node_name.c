/* A node's identity (see node_name.h). */
#define _POSIX_C_SOURCE 200809L
#include "node_name.h"

#include <string.h>
#include <unistd.h>

static int name_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
           || ch == '.' || ch == '_' || ch == '-';
}

const char *mm_node_name_check(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > MM_NODE_NAME_MAX)
        return "must be 1 to 63 characters";
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i]))
            return "may hold only letters, digits, '.', '_' and '-'";
    return NULL;
}

const char *mm_node_url_check(const char *url)
{
    size_t len = strlen(url), scheme;

    if (!strncmp(url, "ws://", 5))
        scheme = 5;
    else if (!strncmp(url, "wss://", 6))
        scheme = 6;
    else
        return "must be a ws:// or wss:// URL";
    if (len > MM_NODE_URL_MAX)
        return "must be at most 120 bytes (it is the reason of a 4307 close)";
    if (len == scheme || url[scheme] == '/' || url[scheme] == '?')
        return "must name a host";
    for (size_t i = 0; i < len; i++)
        if (url[i] <= ' ' || url[i] > '~' || url[i] == '#')
            return "must be printable ASCII without spaces or a fragment";
    return NULL;
}

void mm_node_default_name(char buf[MM_NODE_NAME_MAX + 1])
{
    size_t i = 0;

    if (gethostname(buf, MM_NODE_NAME_MAX + 1) != 0)
        buf[0] = '\0';
    buf[MM_NODE_NAME_MAX] = '\0';
    for (; buf[i] && buf[i] != '.' && i < MM_NODE_NAME_MAX; i++)
        if (!name_char(buf[i]))
            buf[i] = '-';
    buf[i] = '\0';
    if (!i)
        memcpy(buf, "node", 5);
}
