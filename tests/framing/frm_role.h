/**
 * @file frm_role.h
 * @brief Exit codes of frm_role, shared with the tests that spawn it.
 */
#ifndef FRM_ROLE_H
#define FRM_ROLE_H

#define FRM_EXIT_TABLE(X)                                                                \
  X(FRM_EX_OK, 0, "ok")                                                                  \
  X(FRM_EX_USAGE, 2, "bad command line")                                                 \
  X(FRM_EX_SETUP, 3, "create/attach failed")                                             \
  X(FRM_EX_TIMEOUT, 4, "timed out waiting for messages or space")                        \
  X(FRM_EX_OWNERDEAD, 5, "unexpected -DMP_E_OWNERDEAD")                                  \
  X(FRM_EX_CONTENT, 6, "a message differs from the oracle (size, kind, order, bytes)")   \
  X(FRM_EX_API, 7, "an unexpected error from the API")                                   \
  X(FRM_EX_IO, 8, "could not write a marker/report file")                                \
  X(FRM_EX_NEVER_MID, 9, "--die-mid-after never met a half-received message")

enum frm_exit {
#define FRM_X_ENUM(e, v, msg) e = v,
  FRM_EXIT_TABLE(FRM_X_ENUM)
#undef FRM_X_ENUM
};

static inline const char *frm_exit_name(int code)
{
  switch (code) {
#define FRM_X_CASE(e, v, msg) \
  case v:                     \
    return #e ": " msg;
    FRM_EXIT_TABLE(FRM_X_CASE)
#undef FRM_X_CASE
  case -1:
    return "did not exit in time (killed by the test)";
  case 127:
    return "exec failed";
  default:
    return code > 128 ? "killed by a signal (128 + signo)" : "unknown exit code";
  }
}

#endif /* FRM_ROLE_H */
