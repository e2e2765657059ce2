/* Layer 3 msgpack views (view.h): the bounded parser's tree, in a caller
 * arena, pointing into the message; plus the generic view-codec call. */
#include <myelon/error.h>
#include <myelon/view.h>

#include <disruptor_mp/error.h>
#include <errno.h>

#include "mp_internal.h"

int myelon_view_access(const struct myelon_view_codec *vc, const void *data, size_t len, void *view)
{
  if (!vc || !vc->access || !view || (!data && len))
    return -EINVAL;
  return vc->access(data, len, NULL, view, vc->user);
}

static int mp_access(const void *data, size_t len, const struct myelon_lease *lease, struct myelon_mp_arena *arena,
                     struct myelon_mp_view *view)
{
  const msgpack_object *root = NULL;
  int rc = myelon_mp_parse(data, len, arena, &root);
  *view = (struct myelon_mp_view){.lease = {.gen = NULL, .at = 0}, .root_ = NULL, .data = NULL, .len = 0, .nodes = 0};
  if (rc < 0)
    return rc;
  if (lease)
    view->lease = *lease;
  view->root_ = root;
  view->data = data;
  view->len = len;
  view->nodes = arena->used;
  return 0;
}

int myelon_mp_view_access(const void *data, size_t len, struct myelon_mp_arena *arena, struct myelon_mp_view *view)
{
  if (!view)
    return -EINVAL;
  return mp_access(data, len, NULL, arena, view);
}

static int mp_view_access_fn(const void *data, size_t len, const struct myelon_lease *lease, void *view, void *user)
{
  return mp_access(data, len, lease, user, view);
}

bool myelon_impl_mp_view_is_tree(const struct myelon_view_codec *vc)
{
  return vc->access == mp_view_access_fn;
}

void myelon_mp_view_codec_init(struct myelon_view_codec *vc, struct myelon_mp_arena *arena)
{
  *vc = (struct myelon_view_codec){"msgpack-view", mp_view_access_fn, arena};
}
