/**
 * @file export.h
 * @brief Symbol visibility. The library is built with -fvisibility=hidden;
 * only functions marked MYELON_API are exported.
 */
#ifndef MYELON_EXPORT_H
#define MYELON_EXPORT_H

#if defined(MYELON_BUILDING) && defined(__GNUC__)
#define MYELON_API __attribute__((visibility("default")))
#else
#define MYELON_API
#endif

#endif /* MYELON_EXPORT_H */
