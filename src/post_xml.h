/* post_xml.h - the XML of the post-related protocol areas, without a server: the post
 * payload elements (entities, <post>, <livepost>) built from plain C structs, the hotness
 * reply, and the checks of the requests hippod accepts (recentPosts, method/postClicked,
 * hotness, postControl). Shapes: schema/post.xsd, servermethod.xsd, hotness.xsd,
 * postControl.xsd; docs/protocol-posts.md. */
#ifndef HIPPO_POST_XML_H
#define HIPPO_POST_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#include "guid.h"

#define HIPPO_POST_XML_NS_POST "http://dumbhippo.com/protocol/post"
#define HIPPO_POST_XML_NS_METHOD "http://dumbhippo.com/protocol/servermethod"
#define HIPPO_POST_XML_NS_HOTNESS "http://dumbhippo.com/protocol/hotness"
#define HIPPO_POST_XML_NS_CONTROL "http://dumbhippo.com/protocol/postControl"

#define HIPPO_POST_XML_MAX_VIEWERS 5 /* <recentViewers> holds at most this many */

typedef enum hippo_entity_kind {
    HIPPO_ENTITY_USER,
    HIPPO_ENTITY_RESOURCE,
    HIPPO_ENTITY_GROUP,
} hippo_entity_kind;

/* A full entity: <user id name homeUrl smallPhotoUrl/>, <resource id name/> or
 * <group id name homeUrl smallPhotoUrl/>. PHOTO_VERSION is unused for resources. */
typedef struct hippo_post_entity {
    hippo_entity_kind kind;
    const char *id;
    const char *name;
    long long photo_version;
} hippo_post_entity;

/* An identifying-only recipient: <user id/>, <resource id/> or <group id/>. */
typedef struct hippo_post_ref {
    hippo_entity_kind kind;
    const char *id;
} hippo_post_ref;

typedef struct hippo_post_fields {
    const char *id;
    const char *poster_id;
    const char *href;
    const char *title;
    const char *text;
    bool to_world;
    long long post_date; /* epoch seconds */
    const char *info;    /* postInfo XML or NULL; left out unless hippo_post_xml_is_well_formed */
    const hippo_post_ref *recipients;
    size_t n_recipients;
    bool favorite;
    bool ignored;
} hippo_post_fields;

typedef struct hippo_livepost_fields {
    const char *id;
    const char *const *viewers; /* most recent first; only the first 5 are sent */
    size_t n_viewers;
    long long chatting_users;
    long long viewing_users;
    long long total_viewers;
} hippo_livepost_fields;

/* The builders add a new child to PARENT (which carries the post namespace: the children
 * inherit it) and return 0, or -1 on allocation failure (PARENT may then hold a partial
 * child: release it). Every string is cleaned with hippo_post_xml_clean_text() first. */
int hippo_post_xml_add_entity(xmpp_stanza_t *parent, const hippo_post_entity *e);
int hippo_post_xml_add_post(xmpp_stanza_t *parent, const hippo_post_fields *p);
int hippo_post_xml_add_livepost(xmpp_stanza_t *parent, const hippo_livepost_fields *l);

/* A new empty <NAME xmlns=post> (the caller releases it), or NULL. */
xmpp_stanza_t *hippo_post_xml_wrapper(xmpp_ctx_t *ctx, const char *name);

/* A new <hotness xmlns=hotness value=VALUE/> (the caller releases it), or NULL when VALUE is
 * not one of COLD, COOL, WARM, GETTING_HOT, HOT or on allocation failure. */
xmpp_stanza_t *hippo_post_xml_hotness(xmpp_ctx_t *ctx, const char *value);

/* True when XML is a well-formed XML document without a DOCTYPE (checked with libxml2, no
 * network, nothing loaded). */
bool hippo_post_xml_is_well_formed(const char *xml);

/* A copy of S in which every byte sequence that is not valid UTF-8, or encodes a character
 * that XML 1.0 does not allow (C0 controls but tab, LF and CR; surrogates; U+FFFE, U+FFFF),
 * is replaced by U+FFFD, so no database text can break the XMPP stream. The caller frees it
 * with free(); NULL on allocation failure. */
char *hippo_post_xml_clean_text(const char *s);

/* The request checks: TYPE is the iq's type attribute, PAYLOAD its only element. Each
 * returns NULL when the request is acceptable (outputs set; strings point into PAYLOAD or
 * are static), else the text of the bad-request error. Unknown attributes are ignored;
 * unknown child elements and non-blank text are errors. */

/* recentPosts (get): *POST_ID is the optional id attribute (NULL when absent). */
const char *hippo_post_xml_check_recent_posts(const char *type, xmpp_stanza_t *payload,
                                              const char **post_id);
/* hotness (get): type="getValue" or no type attribute. */
const char *hippo_post_xml_check_hotness(const char *type, xmpp_stanza_t *payload);
/* method (set): name="postClicked" and exactly one <arg> holding a post GUID, copied into
 * POST_ID. */
const char *hippo_post_xml_check_method(const char *type, xmpp_stanza_t *payload,
                                        char post_id[HIPPO_GUID_LEN + 1]);
/* postControl (set): type="ignore" (*IGNORE true) or "unignore" (false), id a post GUID. */
const char *hippo_post_xml_check_post_control(const char *type, xmpp_stanza_t *payload,
                                              bool *ignore, const char **post_id);

#endif
