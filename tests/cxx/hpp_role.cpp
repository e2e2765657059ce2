// lang_role.c's peer written against <myelon/myelon.hpp> (the header-only
// C++ layer): the raw and framed roles go through its RAII handles,
// string_view (and, in C++20, span) views and std::error_code; the typed
// role is lang_role.c's own. Same command line, same values, so
// run_pairs.py pairs it with the C peer in both directions:
//   hpp-role raw|framed|typed|framed-bytes|typed-bytes produce|consume NAME COUNT
// (the *-bytes layers on a framed byte ring, as lang_role.c's)
#define main lang_role_c_main
#include "lang_role.c"
#undef main

#include <myelon/myelon.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace {

int fail_ec(const char *what, const std::error_code &ec)
{
  // the category's message is myelon_strerror()'s text
  std::fprintf(stderr, "hpp-role[%s %s]: %s: %s (%s) / %s\n", lang_layer, lang_role, what, ec.message().c_str(),
               ec.category().name(), dmp_last_error());
  return 1;
}

int hpp_raw_produce(const char *name, int64_t count)
{
  dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = name;
  cfg.capacity = 64;
  lang_tick_producer_config(&cfg);
  cfg.wait_consumers = 1;
  cfg.wait_timeout_ns = WAIT;
  std::error_code ec;
  myelon::ring_producer p = myelon::ring_producer::create(cfg, ec);
  if (ec || !p)
    return fail_ec("ring_producer::create", ec);
  for (int64_t i = 0; i < count; i++) {
    lang_tick *t = p.claim_as<lang_tick>(WAIT, ec);
    if (!t)
      return fail_ec("ring_producer::claim", ec);
    t->n = i;
    t->px = 0.5 * (double)i;
    t->check = mix((uint64_t)i);
    p.publish();
  }
  return 0; // the destructor closes the producer (and removes the ring)
}

int hpp_raw_consume(const char *name, int64_t count)
{
  dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.name = name;
  cfg.id = "lang";
  lang_tick_consumer_config(&cfg);
  std::error_code ec;
  myelon::ring_consumer c = myelon::ring_consumer::attach(cfg, WAIT, ec);
  if (ec)
    return fail_ec("ring_consumer::attach", ec);
  for (int64_t i = 0; i < count; i++) {
    int64_t seq = -1;
    const lang_tick *t = c.peek_as<lang_tick>(WAIT, ec, &seq);
    if (!t)
      return fail_ec("ring_consumer::peek", ec);
    if (seq != i || t->n != i || t->px != 0.5 * (double)i || t->check != mix((uint64_t)i)) {
      std::fprintf(stderr, "event %" PRId64 ": seq %" PRId64 " n %" PRId64 "\n", i, seq, t->n);
      return 1;
    }
    c.release();
  }
  return 0;
}

int hpp_framed_produce(const char *name, int64_t count)
{
  myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.capacity = 64;
  cfg.ring.wait_consumers = 1;
  cfg.ring.wait_timeout_ns = WAIT;
  lang_shape_producer(&cfg);
  std::error_code ec;
  myelon::producer p = myelon::producer::create(cfg, ec);
  if (ec)
    return fail_ec("producer::create", ec);
  uint8_t buf[3001];
  static uint8_t bufs[4][3001];
  for (int64_t i = 0; i < count; i++) {
    if (i % 8 == 4 && i + 4 <= count) { // every other group of four: one publish_batch()
      myelon_batch_msg msgs[4];
      for (int64_t k = 0; k < 4; k++) {
        size_t n = framed_len(i + k);
        framed_fill(bufs[k], n, i + k);
        msgs[k] = myelon_batch_msg{bufs[k], n, (uint8_t)((i + k) % 251)};
      }
      std::size_t done = 0;
      ec = p.publish_batch(msgs, 4, WAIT, &done);
      if (ec || done != 4)
        return fail_ec("producer::publish_batch", ec);
      i += 3;
      continue;
    }
    size_t len = framed_len(i);
    framed_fill(buf, len, i);
#ifdef MYELON_HPP_HAVE_SPAN
    if (i % 2) // both overloads: span (C++20) and string_view
      ec = p.publish(std::span<const std::byte>(reinterpret_cast<const std::byte *>(buf), len), (uint8_t)(i % 251),
                     WAIT);
    else
#endif
      ec = p.publish(std::string_view(reinterpret_cast<const char *>(buf), len), (uint8_t)(i % 251), WAIT);
    if (ec)
      return fail_ec("producer::publish", ec);
  }
  return 0;
}

int hpp_framed_consume(const char *name, int64_t count)
{
  myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.id = "lang";
  lang_shape_consumer(&cfg);
  std::error_code ec;
  myelon::consumer c = myelon::consumer::attach(cfg, WAIT, ec);
  if (ec)
    return fail_ec("consumer::attach", ec);
  uint8_t want[3001];
  myelon_msg batch[3];
  std::size_t have = 0, next = 0; // received by recv_batch(), handed out
  for (int64_t i = 0; i < count; i++) {
    if (next == have && i % 2) { // every other receive: a batch of up to three
      have = c.recv_batch(batch, 3, WAIT, ec);
      next = 0;
      if (ec || have == 0)
        return fail_ec("consumer::recv_batch", ec);
    }
    myelon::message m = next < have ? myelon::message(batch[next++]) : c.recv(WAIT, ec);
    if (!m.ok())
      return fail_ec("consumer::recv", ec);
    size_t len = framed_len(i);
    framed_fill(want, len, i);
    std::string_view v = m.view();
    bool same = v.size() == len && m.kind() == (uint8_t)(i % 251) && (len == 0 || std::memcmp(v.data(), want, len) == 0);
#ifdef MYELON_HPP_HAVE_SPAN
    same = same && m.bytes().size() == len && (len == 0 || m.bytes().data() == reinterpret_cast<const std::byte *>(v.data()));
#endif
    if (!same) {
      std::fprintf(stderr, "message %" PRId64 ": len %zu (want %zu) kind %u\n", i, v.size(), len, (unsigned)m.kind());
      return 1;
    }
    if (next == have) // the batch's slots go back together
      c.release();
  }
  // the producer closes after the last message: the stream's end is an error code
  myelon::message end = c.recv(WAIT, ec);
  if (end.ok() || ec != myelon::make_error_code(-DMP_E_OWNERDEAD) || ec.message() != myelon_strerror(-DMP_E_OWNERDEAD))
    return fail_ec("consumer::recv after the end (want OWNERDEAD)", ec);
  return 0;
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 5) {
    std::fprintf(stderr, "usage: hpp-role raw|framed|typed|framed-bytes|typed-bytes produce|consume NAME COUNT\n");
    return 2;
  }
  lang_layer = argv[1];
  lang_role = argv[2];
  const char *name = argv[3];
  int64_t count = std::strtoll(argv[4], nullptr, 10);
  bool produce = std::strcmp(lang_role, "produce") == 0;
  if (std::strcmp(lang_layer, "raw") == 0)
    return produce ? hpp_raw_produce(name, count) : hpp_raw_consume(name, count);
  lang_bytes = std::strcmp(lang_layer, "framed-bytes") == 0;
  if (std::strcmp(lang_layer, "framed") == 0 || lang_bytes)
    return produce ? hpp_framed_produce(name, count) : hpp_framed_consume(name, count);
  return lang_role_c_main(argc, argv); // typed: lang_role.c's own
}
