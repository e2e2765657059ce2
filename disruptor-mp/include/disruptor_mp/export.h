/**
 * @file export.h
 * @brief Symbol visibility. The library is built with -fvisibility=hidden;
 * only functions marked DMP_API are exported.
 */
#ifndef DISRUPTOR_MP_EXPORT_H
#define DISRUPTOR_MP_EXPORT_H

#if defined(DMP_BUILDING) && defined(__GNUC__)
#define DMP_API __attribute__((visibility("default")))
#else
#define DMP_API
#endif

#endif /* DISRUPTOR_MP_EXPORT_H */
