/**
 * @file version.c
 * @brief dmp_version(): the version of the library actually loaded.
 */
#include <disruptor_mp/version.h>

const char *dmp_version(void)
{
  return DMP_VERSION_STRING;
}
