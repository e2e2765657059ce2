/* libmyelon error names and messages; other codes go to disruptor_mp. */
#include <myelon/error.h>

#include <disruptor_mp/error.h>

const char *myelon_strerror(int err)
{
  switch (err < 0 ? -err : err) {
#define MYELON_X_MSG(code, name, msg) case code: return msg;
    MYELON_ERROR_TABLE(MYELON_X_MSG)
#undef MYELON_X_MSG
  default:
    return dmp_strerror(err);
  }
}

const char *myelon_err_name(int err)
{
  switch (err < 0 ? -err : err) {
#define MYELON_X_NAME(code, name, msg) case code: return name;
    MYELON_ERROR_TABLE(MYELON_X_NAME)
#undef MYELON_X_NAME
  default:
    return dmp_err_name(err);
  }
}
