/* Bounded reassembly of fragmented messages (see frame.h). Never trusts a
 * frame: lengths, ids and fragment order are checked against the message
 * in progress, and the buffer never grows beyond the configured maximum. */
#include <myelon/error.h>
#include <myelon/frame.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int myelon_reasm_init(struct myelon_reasm *r, size_t max_message)
{
  if (!r || max_message == 0)
    return -EINVAL;
  memset(r, 0, sizeof *r);
  r->max = max_message;
  return 0;
}

void myelon_reasm_fini(struct myelon_reasm *r)
{
  if (!r)
    return;
  free(r->buf);
  r->buf = NULL;
  r->cap = 0;
  myelon_reasm_reset(r);
}

void myelon_reasm_reset(struct myelon_reasm *r)
{
  r->active = false;
  r->len = 0;
  r->total = 0;
}

/* Make room for `need` bytes: grow by doubling, 16-byte aligned, bounded
 * by r->max (the caller checked need <= max). */
static int reserve(struct myelon_reasm *r, size_t need)
{
  if (need <= r->cap)
    return 0;
  size_t cap = r->cap ? r->cap : 4096;
  if (cap > r->max)
    cap = r->max; /* the first allocation too stays within the bound */
  while (cap < need)
    cap = cap > r->max / 2 ? r->max : cap * 2;
  if (cap < need)
    cap = need;
  size_t alloc = (cap + 15) & ~(size_t)15;
  uint8_t *b = aligned_alloc(16, alloc);
  if (!b)
    return -ENOMEM;
  if (r->len)
    memcpy(b, r->buf, r->len);
  free(r->buf);
  r->buf = b;
  r->cap = alloc;
  return 0;
}

static int fail(struct myelon_reasm *r, int rc)
{
  myelon_reasm_reset(r);
  return rc;
}

static int start(struct myelon_reasm *r, const struct myelon_frame_view *f)
{
  bool single = (f->flags & MYELON_FLAG_END) != 0;
  uint64_t total = single ? f->len : f->total;
  if (f->frag != 0)
    return fail(r, -MYELON_E_MALFORMED);
  if (total > r->max) {
    r->skip_id = single ? 0 : f->msg_id;
    return fail(r, -MYELON_E_TOOBIG);
  }
  if (!single && total <= f->len)
    return fail(r, -MYELON_E_MALFORMED); /* a multi-frame message must need a second frame */
  if (reserve(r, (size_t)total) < 0)
    return fail(r, -ENOMEM);
  if (f->len) /* an empty SINGLE may leave buf NULL: no memcpy(NULL, ..., 0) */
    memcpy(r->buf, f->data, f->len);
  r->len = f->len;
  r->total = total;
  r->msg_id = f->msg_id;
  r->kind = f->kind;
  r->next_frag = 1;
  r->skip_id = 0;
  r->active = !single;
  return single ? 1 : 0;
}

int myelon_reasm_feed(struct myelon_reasm *r, const struct myelon_frame_view *f, bool *consumed)
{
  *consumed = true;
  if (f->flags & MYELON_FLAG_START) {
    if (r->active) {
      /* The message in progress lost its tail: report it, then take this
       * frame again as the start of the next message. */
      *consumed = false;
      return fail(r, -MYELON_E_TRUNCATED);
    }
    return start(r, f);
  }
  if (!r->active) {
    if (f->msg_id != r->skip_id)
      r->orphans++; /* late join or resume mid-message: wait for a START */
    return 0;
  }
  if (f->msg_id != r->msg_id || f->frag != r->next_frag)
    return fail(r, -MYELON_E_MALFORMED);
  if (f->total && f->total != r->total)
    return fail(r, -MYELON_E_MALFORMED);
  if (f->len > r->total - r->len)
    return fail(r, -MYELON_E_MALFORMED);
  memcpy(r->buf + r->len, f->data, f->len);
  r->len += f->len;
  r->next_frag++;
  if (!(f->flags & MYELON_FLAG_END))
    return r->len == r->total ? fail(r, -MYELON_E_MALFORMED) : 0; /* full but no END */
  if (r->len != r->total)
    return fail(r, -MYELON_E_TRUNCATED);
  r->active = false;
  return 1;
}
