// Compiled by ctest twice: as is it must compile; with
// -DFORKSERVE_UNKNOWN_STATUS it must not, because Status(299) is no standard
// status (tests/CMakeLists.txt, Sdk.UnknownStatusIsACompileError).
#include <forkserve/status.hpp>

#ifdef FORKSERVE_UNKNOWN_STATUS
constexpr forkserve::Status chosen(299);
#else
constexpr forkserve::Status chosen(200);
#endif

int main() { return chosen.code() == 200 ? 0 : 1; }
