// What each ABI minor version of a module is handed (include/forkserve/module.h).
#pragma once

#include <forkserve/module.h>

namespace forkserve {

// Calls module.handle with the request laid out for the minor version the
// module was built with: a 1.0 module gets the request without the leading
// size and abi_minor and without what later minors appended.
int call_handle(const forkserve_module& module, const forkserve_request& request);

}  // namespace forkserve
