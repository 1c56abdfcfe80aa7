/* handle_disco.c - what the component domain says about itself: service discovery
 * (XEP-0030), ping (XEP-0199) and software version (XEP-0092). Its items, the rooms, are
 * listed by handle_disco_items.c. */
#include <string.h>
#include <sys/utsname.h>

#include "handlers.h"
#include "rsm.h"
#include "send.h"
#include "stanza.h"
#include "xmpp_link.h"

/* Only what is implemented is advertised (the router's table routes these four; disco#items
 * pages with RSM, which XEP-0059 says to advertise). */
static const char *const features[] = {HIPPO_NS_DISCO_INFO, HIPPO_NS_DISCO_ITEMS, HIPPO_NS_PING,
                                       HIPPO_NS_VERSION, HIPPO_NS_RSM};

/* Sends RESULT (built by the caller) and releases it. */
static void send_result(hippod *d, xmpp_stanza_t *result)
{
    hippo_send(d, result);
    xmpp_stanza_release(result);
}

static void out_of_memory(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *partial)
{
    if (partial)
        xmpp_stanza_release(partial);
    hippo_send_error(d, iq, "wait", "resource-constraint", "out of memory");
}

static int add_identity(xmpp_stanza_t *query)
{
    xmpp_stanza_t *identity = hippo_stanza_add_element(query, "identity", NULL);
    if (!identity)
        return -1;
    xmpp_stanza_set_attribute(identity, "category", "conference");
    xmpp_stanza_set_attribute(identity, "type", "text");
    xmpp_stanza_set_attribute(identity, "name", "Mugshot chat rooms (hippod)");
    return 0;
}

void hippo_disco_info(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    if (xmpp_stanza_get_attribute(payload, "node")) {
        hippo_send_error(d, iq, "cancel", "item-not-found", "no such node");
        return;
    }
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_link_ctx(d->link), iq);
    xmpp_stanza_t *query =
        result ? hippo_stanza_add_element(result, "query", HIPPO_NS_DISCO_INFO) : NULL;
    if (!query || add_identity(query) < 0) {
        out_of_memory(d, iq, result);
        return;
    }
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        xmpp_stanza_t *f = hippo_stanza_add_element(query, "feature", NULL);
        if (!f) {
            out_of_memory(d, iq, result);
            return;
        }
        xmpp_stanza_set_attribute(f, "var", features[i]);
    }
    send_result(d, result);
}

void hippo_disco_ping(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    (void)payload;
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_link_ctx(d->link), iq);
    if (!result) {
        out_of_memory(d, iq, NULL);
        return;
    }
    send_result(d, result);
}

static int add_text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *child = hippo_stanza_add_element(parent, name, NULL);
    return child ? hippo_stanza_add_text(child, text) : -1;
}

void hippo_disco_version(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    (void)payload;
    struct utsname u;
    const char *os = uname(&u) == 0 ? u.sysname : "Linux";
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_link_ctx(d->link), iq);
    xmpp_stanza_t *query =
        result ? hippo_stanza_add_element(result, "query", HIPPO_NS_VERSION) : NULL;
    if (!query || add_text_child(query, "name", "hippod") < 0 ||
        add_text_child(query, "version", HIPPOD_VERSION) < 0 ||
        add_text_child(query, "os", os) < 0) {
        out_of_memory(d, iq, result);
        return;
    }
    send_result(d, result);
}
