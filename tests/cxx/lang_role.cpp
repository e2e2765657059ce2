// The C++ build of lang_role.c: the same source, compiled as C++ (C++17
// and C++20 builds in tests/cxx/meson.build), so that the library's inline
// hot path and its field-table macros are exercised by a C++ compiler.
#include "lang_role.c"
