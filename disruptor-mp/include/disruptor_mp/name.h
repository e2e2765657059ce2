/**
 * @file name.h
 * @brief Segment names: validation and a portable unique-name helper.
 *
 * A segment name is 1..DMP_NAME_MAX characters of [A-Za-z0-9_.-], optionally
 * preceded by one '/', not starting with '.'. The library stores one ring in
 * one segment and appends at most DMP_NAME_SUFFIX_MAX characters for its own
 * companion objects, so '/' + name + suffix always fits macOS's 31-byte
 * shm name limit (PSHMNAMLEN).
 */
#ifndef DISRUPTOR_MP_NAME_H
#define DISRUPTOR_MP_NAME_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stddef.h>

#include <disruptor_mp/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMP_NAME_MAX 23u        /**< characters of a segment name, without '/' */
#define DMP_NAME_SUFFIX_MAX 7u  /**< longest suffix the library appends */
#define DMP_PORTABLE_NAME_MAX 14u /**< length of dmp_name_portable()'s names */
static_assert(1 + DMP_NAME_MAX + DMP_NAME_SUFFIX_MAX <= 31, "fits PSHMNAMLEN");

/**
 * Check a segment name.
 * @return 0, or -DMP_E_BADNAME (detail says why), -EINVAL for NULL.
 */
DMP_API int dmp_name_validate(const char *name);

/**
 * Check a consumer id: 1..31 characters of [A-Za-z0-9_.-].
 * @return 0, or -DMP_E_BADNAME, -EINVAL for NULL.
 */
DMP_API int dmp_id_validate(const char *id);

/**
 * Make a fresh, unique, portable segment name: up to 6 lowercase
 * alphanumerics from `prefix` ("d" if none), then 8 random base-36 digits.
 * At most DMP_PORTABLE_NAME_MAX characters.
 * @return the length written, or -EINVAL (NULL out), -ENOSPC (`outlen` too
 *         small: needs DMP_PORTABLE_NAME_MAX + 1).
 */
DMP_API int dmp_name_portable(const char *prefix, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_NAME_H */
