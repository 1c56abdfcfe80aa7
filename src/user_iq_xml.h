/* user_iq_xml.h - the payloads of the user-side protocol IQs (clientInfo, myspace, prefs)
 * and of the myspace/prefs notifications, built and parsed without a server so that unit
 * tests can validate them against the schemas in schema/. The music payload is in music_track.h.
 *
 * Builders return a new element the caller releases with xmpp_stanza_release(), or NULL
 * when out of memory; the _add functions return 0, or -1 when out of memory. */
#ifndef HIPPO_USER_IQ_XML_H
#define HIPPO_USER_IQ_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#define HIPPO_NS_CLIENTINFO "http://dumbhippo.com/protocol/clientinfo"
#define HIPPO_NS_MUSIC "http://dumbhippo.com/protocol/music"
#define HIPPO_NS_MYSPACE "http://dumbhippo.com/protocol/myspace"
#define HIPPO_NS_PREFS "http://dumbhippo.com/protocol/prefs"

/* Longest distribution, version or architecture attribute a clientInfo may carry. */
#define HIPPO_CLIENTINFO_MAX_ATTR 64
/* Most blog comments a getBlogComments reply lists (the newest). */
#define HIPPO_MYSPACE_MAX_COMMENTS 100
/* Most contacts a getContacts reply lists. */
#define HIPPO_MYSPACE_MAX_CONTACTS 500
/* Longest MySpace name notifyContactComment accepts. */
#define HIPPO_MYSPACE_MAX_NAME 256

/* ---- clientInfo -------------------------------------------------------------------- */

/* The request's attributes (pointers into the request stanza); absent ones are NULL. */
typedef struct hippo_clientinfo_request {
    const char *platform;
    const char *distribution;
    const char *version;
    const char *architecture;
} hippo_clientinfo_request;

/* Reads and checks the attributes of a clientInfo request. Returns 0, or -1 with the
 * reason for a bad-request in ERR. Whether the platform is configured is not checked. */
int hippo_clientinfo_parse(xmpp_stanza_t *payload, hippo_clientinfo_request *out, char *err,
                           size_t errlen);

/* <clientInfo xmlns=clientinfo minimum= current= download=/> */
xmpp_stanza_t *hippo_clientinfo_element(xmpp_ctx_t *ctx, const char *minimum, const char *current,
                                        const char *download);

/* ---- prefs ------------------------------------------------------------------------- */

/* <prefs xmlns=prefs/>, for the IQ reply and the prefs headline alike. */
xmpp_stanza_t *hippo_prefs_element(xmpp_ctx_t *ctx);
/* Appends <prop key=KEY>VALUE</prop>. */
int hippo_prefs_add(xmpp_stanza_t *prefs, const char *key, const char *value);

/* ---- myspace ----------------------------------------------------------------------- */

/* <mySpaceInfo xmlns=myspace [mySpaceName=NAME]/>: NAME NULL leaves the attribute out. */
xmpp_stanza_t *hippo_myspace_info_element(xmpp_ctx_t *ctx, const char *name);
/* Appends <comment><commentId>C</commentId><posterId>P</posterId></comment>. */
int hippo_myspace_info_add_comment(xmpp_stanza_t *info, const char *comment_id,
                                   const char *poster_id);
/* Appends <contact name=NAME friendID=ID friendId=ID/>: the original server wrote friendID,
 * the seed friendId; both are sent so clients of either kind find theirs. */
int hippo_myspace_info_add_contact(xmpp_stanza_t *info, const char *name, const char *friend_id);

/* <mySpaceNameChanged xmlns=myspace [name=NAME]/> (headline payload; NULL: no name). */
xmpp_stanza_t *hippo_myspace_name_changed_element(xmpp_ctx_t *ctx, const char *name);
/* <mySpaceContactComment xmlns=myspace/> (headline payload). */
xmpp_stanza_t *hippo_myspace_contact_comment_element(xmpp_ctx_t *ctx);

/* The two values of an addBlogComment request, as decimal text of signed 64-bit numbers
 * (normalised: no sign for positives, no leading zeros). */
typedef struct hippo_blog_comment {
    char comment_id[24];
    char poster_id[24];
} hippo_blog_comment;

/* Reads <commentId>N</commentId><posterId>N</posterId> (each exactly once, any order).
 * Returns 0, or -1 with the reason for a bad-request in ERR. */
int hippo_blog_comment_parse(xmpp_stanza_t *payload, hippo_blog_comment *out, char *err,
                             size_t errlen);

/* Checks a notifyContactComment name attribute (present, not blank, not too long).
 * Returns 0, or -1 with the reason in ERR. */
int hippo_contact_comment_name_check(const char *name, char *err, size_t errlen);

/* ---- shared helpers ---------------------------------------------------------------- */

/* True when CHILD is in namespace NS or in none (xmlns=""), as a payload's children may
 * be written either way. */
bool hippo_user_iq_child_ns_ok(xmpp_stanza_t *child, const char *ns);

/* Parses decimal text (ASCII blanks around it allowed, an optional '-') into *OUT within
 * [MIN, MAX]. Returns false when it is not such a number. */
bool hippo_user_iq_parse_int(const char *text, long long min, long long max, long long *out);

#endif
