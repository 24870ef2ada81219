// Test-only crash points. In a library built with SHMLEASE_FAULT_HOOKS, a
// process whose environment says SHMLEASE_CRASH_AT=<point> dies (SIGKILL, or
// _exit when SHMLEASE_CRASH_HOW=exit) the SHMLEASE_CRASH_SKIP+1-th time it
// reaches that point. Release builds compile the points away entirely.
#ifndef SHMLEASE_LIB_FAULT_H_
#define SHMLEASE_LIB_FAULT_H_

#if defined(SHMLEASE_FAULT_HOOKS)
namespace shmlease::internal {
void FaultPoint(const char* name) noexcept;
}  // namespace shmlease::internal
#define SHMLEASE_FAULT_POINT(name) ::shmlease::internal::FaultPoint(name)
#else
#define SHMLEASE_FAULT_POINT(name) \
  do {                             \
  } while (false)
#endif

#endif  // SHMLEASE_LIB_FAULT_H_
