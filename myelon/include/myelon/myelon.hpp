/* myelon.hpp: a thin header-only C++17 layer over both libraries (issue 19).
 *
 * RAII handles (move-only; the destructor closes), messages as
 * std::string_view (and std::span<const std::byte> under C++20), errors as
 * std::error_code in myelon::category(), whose messages are
 * myelon_strerror()'s. Nothing here throws: every fallible call takes or
 * returns a std::error_code, as the C functions return codes. The C handle
 * is always reachable (get()) for everything this layer does not wrap.
 *
 *   myelon::producer p = myelon::producer::create(cfg, ec);  // framed (Layer 1)
 *   ec = p.publish(std::string_view("hello"), 1, timeout_ns);
 *   myelon::consumer c = myelon::consumer::attach(ccfg, timeout_ns, ec);
 *   myelon::message m = c.recv(timeout_ns, ec);                // leased view
 *   use(m.kind(), m.view());                                    // until release() / the next recv
 *
 * ring_producer / ring_consumer do the same for a raw Layer 0 ring (claim
 * a slot, write it, publish; peek, read, release). The hot path stays the
 * headers' inline one: these wrappers are inline calls of it.
 */
#ifndef MYELON_MYELON_HPP
#define MYELON_MYELON_HPP

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/myelon.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#define MYELON_HPP_HAVE_SPAN 1
#endif
#endif

namespace myelon {

/** The error category of both libraries: a std::error_code's value is the
 * positive code (errno, DMP_E_* or MYELON_E_*), the C functions return its
 * negation; message() is myelon_strerror()'s text. */
class error_category_impl final : public std::error_category {
public:
  /** "myelon". */
  const char *name() const noexcept override { return "myelon"; }
  /** myelon_strerror() of the code (dmp_strerror() for Layer 0 codes: one error space).
   * @param ev the positive code */
  std::string message(int ev) const override { return myelon_strerror(-ev); }
};

/** The one instance of the category. */
inline const std::error_category &category() noexcept
{
  static const error_category_impl c;
  return c;
}

/** A C return code as a std::error_code: empty for rc >= 0.
 * @param rc what a C function of either library returned */
inline std::error_code make_error_code(int rc) noexcept
{
  return rc < 0 ? std::error_code(-rc, category()) : std::error_code();
}

/** A received framed message: a view of its bytes, valid until the
 * consumer's next receive or release(). Empty (ok() false) after a failed
 * receive. */
class message {
public:
  message() noexcept = default;
  /** Wraps a C message.
   * @param m what myelon_consumer_recv() returned */
  explicit message(const myelon_msg &m) noexcept : m_(m), ok_(true) {}
  /** True for a received message. */
  bool ok() const noexcept { return ok_; }
  /** The message kind (0..255). */
  std::uint8_t kind() const noexcept { return m_.kind; }
  /** The message length in bytes. */
  std::size_t size() const noexcept { return m_.len; }
  /** True when the bytes are the ring slot itself (no copy was made). */
  bool zero_copy() const noexcept { return m_.zero_copy; }
  /** The bytes as characters (no copy). */
  std::string_view view() const noexcept { return std::string_view(static_cast<const char *>(m_.data), m_.len); }
#ifdef MYELON_HPP_HAVE_SPAN
  /** The bytes (C++20; no copy). */
  std::span<const std::byte> bytes() const noexcept { return {static_cast<const std::byte *>(m_.data), m_.len}; }
#endif
  /** The C message. */
  const myelon_msg &raw() const noexcept { return m_; }

private:
  myelon_msg m_{};
  bool ok_ = false;
};

/** Common part of the handles: owns one C handle, closes it once. */
template <class T, void (*Close)(T *)> class handle {
public:
  handle() noexcept = default;
  /** Takes ownership of `h`. @param h a handle from the C library (or nullptr) */
  explicit handle(T *h) noexcept : h_(h) {}
  handle(const handle &) = delete;
  handle &operator=(const handle &) = delete;
  /** Takes over `o`'s handle. @param o left empty */
  handle(handle &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  /** Closes this handle, takes over `o`'s. @param o left empty */
  handle &operator=(handle &&o) noexcept
  {
    if (this != &o)
      reset(std::exchange(o.h_, nullptr));
    return *this;
  }
  ~handle() { reset(); }
  /** Closes the handle (if any), then owns `h`. @param h the new handle (or nullptr) */
  void reset(T *h = nullptr) noexcept
  {
    if (h_)
      Close(h_);
    h_ = h;
  }
  /** The C handle (still owned). */
  T *get() const noexcept { return h_; }
  /** True while a handle is owned. */
  explicit operator bool() const noexcept { return h_ != nullptr; }

protected:
  T *h_ = nullptr; /**< the owned C handle */
};

/** A framed (Layer 1) producer: creates the ring, publishes messages of any length. */
class producer : public handle<myelon_producer, myelon_producer_close> {
public:
  using handle::handle;
  /** myelon_producer_create().
   * @param cfg the configuration (myelon_producer_config_init() first)
   * @param ec  set on failure (the result is then empty) */
  static producer create(const myelon_producer_config &cfg, std::error_code &ec) noexcept
  {
    myelon_producer *p = nullptr;
    ec = make_error_code(myelon_producer_create(&cfg, &p));
    return producer(p);
  }
  /** myelon_producer_publish(): one message, waiting up to `timeout_ns` for space.
   * @param data the bytes
   * @param len  their number
   * @param kind 0..255
   * @param timeout_ns DMP_FOREVER (-1) or a bound */
  std::error_code publish(const void *data, std::size_t len, std::uint8_t kind, std::int64_t timeout_ns) noexcept
  {
    return make_error_code(myelon_producer_publish(h_, data, len, kind, timeout_ns));
  }
  /** publish() of a string_view's characters.
   * @param s the bytes @param kind 0..255 @param timeout_ns as publish() */
  std::error_code publish(std::string_view s, std::uint8_t kind, std::int64_t timeout_ns) noexcept
  {
    return publish(s.data(), s.size(), kind, timeout_ns);
  }
#ifdef MYELON_HPP_HAVE_SPAN
  /** publish() of a span of bytes (C++20).
   * @param b the bytes @param kind 0..255 @param timeout_ns as publish() */
  std::error_code publish(std::span<const std::byte> b, std::uint8_t kind, std::int64_t timeout_ns) noexcept
  {
    return publish(b.data(), b.size(), kind, timeout_ns);
  }
#endif
  /** myelon_producer_publish_batch(): `n` messages in order, one cursor
   * update per run of messages that fit a frame each.
   * @param msgs the messages
   * @param n    their number
   * @param timeout_ns DMP_FOREVER (-1) or a bound for the whole batch
   * @param published out, may be nullptr: how many were published (`n` on success) */
  std::error_code publish_batch(const myelon_batch_msg *msgs, std::size_t n, std::int64_t timeout_ns,
                                std::size_t *published = nullptr) noexcept
  {
    return make_error_code(myelon_producer_publish_batch(h_, msgs, n, timeout_ns, published));
  }
};

/** A framed (Layer 1) consumer: receives leased messages. */
class consumer : public handle<myelon_consumer, myelon_consumer_close> {
public:
  using handle::handle;
  /** myelon_consumer_attach_timeout().
   * @param cfg the configuration (myelon_consumer_config_init() first)
   * @param timeout_ns how long to retry while the ring does not exist
   * @param ec  set on failure (the result is then empty) */
  static consumer attach(const myelon_consumer_config &cfg, std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    myelon_consumer *c = nullptr;
    ec = make_error_code(myelon_consumer_attach_timeout(&cfg, timeout_ns, &c));
    return consumer(c);
  }
  /** myelon_consumer_recv(): the next message, leased until the next
   * receive or release(); an empty message and `ec` on failure (ETIMEDOUT,
   * DMP_E_OWNERDEAD at the end of the stream ...).
   * @param timeout_ns DMP_FOREVER (-1) or a bound
   * @param ec set on failure, cleared on success */
  message recv(std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    myelon_msg m;
    int rc = myelon_consumer_recv(h_, &m, timeout_ns);
    ec = make_error_code(rc);
    return rc < 0 ? message() : message(m);
  }
  /** myelon_consumer_recv_batch(): up to `max` messages into `out`, all
   * leased until the next receive or release().
   * @param out where the messages go (wrap each in a message to read it)
   * @param max room at `out`, at least 1
   * @param timeout_ns how long to wait for the first: DMP_FOREVER (-1), 0 or a bound
   * @param ec set on failure, cleared on success
   * @return the number received, 0 on failure */
  std::size_t recv_batch(myelon_msg *out, std::size_t max, std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    int n = myelon_consumer_recv_batch(h_, out, max, timeout_ns);
    ec = make_error_code(n);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }
  /** Hands the last message's slot back (myelon_consumer_release()). */
  void release() noexcept { myelon_consumer_release(h_); }
};

/** A raw Layer 0 producer of fixed-size slots. */
class ring_producer : public handle<dmp_producer, dmp_producer_close> {
public:
  using handle::handle;
  /** dmp_producer_create().
   * @param cfg the configuration (dmp_producer_config_init() first)
   * @param ec  set on failure (the result is then empty) */
  static ring_producer create(const dmp_producer_config &cfg, std::error_code &ec) noexcept
  {
    dmp_producer *p = nullptr;
    ec = make_error_code(dmp_producer_create(&cfg, &p));
    return ring_producer(p);
  }
  /** Claims the next slot (dmp_producer_claim_timeout()): write it, then publish().
   * @param timeout_ns DMP_FOREVER (-1) or a bound
   * @param ec set on failure, cleared on success
   * @return the slot, or nullptr on failure */
  void *claim(std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    void *slot = nullptr;
    if (dmp_producer_try_claim(h_, &slot) == 0) { /* the inline fast path */
      ec.clear();
      return slot;
    }
    ec = make_error_code(dmp_producer_claim_timeout(h_, &slot, timeout_ns));
    return ec ? nullptr : slot;
  }
  /** Typed claim: the slot as a T (its size and alignment must fit the ring's slots).
   * @param timeout_ns as claim() @param ec as claim() */
  template <class T> T *claim_as(std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    return static_cast<T *>(claim(timeout_ns, ec));
  }
  /** Publishes the claimed slot (dmp_producer_publish()). @return its sequence */
  std::int64_t publish() noexcept { return dmp_producer_publish(h_); }
};

/** A raw Layer 0 consumer. */
class ring_consumer : public handle<dmp_consumer, dmp_consumer_close> {
public:
  using handle::handle;
  /** dmp_consumer_attach_timeout().
   * @param cfg the configuration (dmp_consumer_config_init() first)
   * @param timeout_ns how long to retry while the ring does not exist
   * @param ec  set on failure (the result is then empty) */
  static ring_consumer attach(const dmp_consumer_config &cfg, std::int64_t timeout_ns, std::error_code &ec) noexcept
  {
    dmp_consumer *c = nullptr;
    ec = make_error_code(dmp_consumer_attach_timeout(&cfg, timeout_ns, &c));
    return ring_consumer(c);
  }
  /** The next event (dmp_consumer_peek_timeout()), leased until release().
   * @param timeout_ns DMP_FOREVER (-1) or a bound
   * @param ec  set on failure, cleared on success
   * @param seq if not null, the event's sequence
   * @return the slot, or nullptr on failure */
  const void *peek(std::int64_t timeout_ns, std::error_code &ec, std::int64_t *seq = nullptr) noexcept
  {
    const void *ev = nullptr;
    std::int64_t s = -1;
    int rc = dmp_consumer_try_peek(h_, &ev, &s); /* the inline fast path */
    if (rc == -EAGAIN)
      rc = dmp_consumer_peek_timeout(h_, &ev, &s, timeout_ns);
    ec = make_error_code(rc);
    if (seq)
      *seq = s;
    return rc < 0 ? nullptr : ev;
  }
  /** Typed peek. @param timeout_ns as peek() @param ec as peek() @param seq as peek() */
  template <class T> const T *peek_as(std::int64_t timeout_ns, std::error_code &ec, std::int64_t *seq = nullptr) noexcept
  {
    return static_cast<const T *>(peek(timeout_ns, ec, seq));
  }
  /** Hands the event's slot back (dmp_consumer_release()). */
  void release() noexcept { dmp_consumer_release(h_); }
};

} // namespace myelon

#endif /* MYELON_MYELON_HPP */
