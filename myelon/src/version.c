/**
 * @file version.c
 * @brief myelon_version(): the version of the library actually loaded.
 */
#include <myelon/version.h>

const char *myelon_version(void)
{
  return MYELON_VERSION_STRING;
}
