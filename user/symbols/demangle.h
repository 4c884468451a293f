/* demangle.h - C++ symbol names for people: "_ZN2v84base2OS8AllocateEPvmmNS1_16MemoryPermissionE"
 * becomes "v8::base::OS::Allocate(void*, unsigned long, unsigned long,
 * v8::base::OS::MemoryPermission)", through the C++ runtime's own demangler. */
#ifndef FL_DEMANGLE_H
#define FL_DEMANGLE_H

#include <stddef.h>

/* The demangled form of name into buf (truncated to len), or name itself
 * when it is no C++ name or does not demangle. Returns buf. */
const char *demangle(const char *name, char *buf, size_t len);

#endif
