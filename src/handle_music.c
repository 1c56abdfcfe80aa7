/* handle_music.c - placeholder until this protocol area is implemented: a known user asking
 * for it gets feature-not-implemented, never silence. */
#include "protocol.h"

void hippo_music_prepare(hippo_db *db)
{
    (void)db;
}

void hippo_music_iq(hippo_request *req)
{
    hippo_request_error(req, "cancel", "feature-not-implemented",
                        "this protocol request is not implemented yet");
}
