/* post_payload.c - placeholder until the post payloads are implemented. */
#include "post_payload.h"

void hippo_post_payload_prepare(hippo_db *db)
{
    (void)db;
}

int hippo_post_payload_build(hippod *d, const char *viewer_id, const char *const *post_ids,
                             size_t n_posts, const char *element_name,
                             hippo_post_payload_flags flags, hippo_post_payload_cb cb, void *arg)
{
    (void)d, (void)viewer_id, (void)post_ids, (void)n_posts, (void)element_name, (void)flags;
    (void)cb, (void)arg;
    return -1;
}
