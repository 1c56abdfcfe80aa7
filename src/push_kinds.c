/* push_kinds.c - which outbox kinds this build sends, with which handler, and how a later
 * event of a kind covers an earlier one in a batch (push.h). */
#include "push_kinds.h"

const hippo_push_kind hippo_push_kinds[] = {
    {"new_post", hippo_push_new_post, HIPPO_PUSH_COVER_NONE},
    {"live_post", hippo_push_live_post, HIPPO_PUSH_COVER_LIVE},
    {"active_posts", hippo_push_active_posts, HIPPO_PUSH_COVER_STATE},
    {"hotness", hippo_push_hotness, HIPPO_PUSH_COVER_STATE},
    {"prefs", hippo_push_prefs, HIPPO_PUSH_COVER_STATE},
    {"myspace_name", hippo_push_myspace_name, HIPPO_PUSH_COVER_STATE},
    {"myspace_comment", hippo_push_myspace_comment, HIPPO_PUSH_COVER_NONE},
    {"room_departure", hippo_push_room_departure, HIPPO_PUSH_COVER_NONE},
};
const size_t hippo_push_n_kinds = sizeof hippo_push_kinds / sizeof hippo_push_kinds[0];

void hippo_push_kinds_prepare(hippo_db *db)
{
    hippo_push_new_post_prepare(db);
    hippo_push_live_post_prepare(db);
    hippo_push_active_posts_prepare(db);
    hippo_push_hotness_prepare(db);
    hippo_push_user_prepare(db);
    hippo_push_room_departure_prepare(db);
}
