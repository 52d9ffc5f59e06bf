# find_package(forkserve) support: the imported targets
#   forkserve::handler          the handler API headers (a module links only this)
#   forkserve::forkserve        libforkserve.a, the server to embed (<forkserve/server.hpp>)
#   forkserve::forkserve_shared libforkserve.so, the same as a shared library
# and the forkserve_add_handler() function.
include("${CMAKE_CURRENT_LIST_DIR}/forkserveTargets.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/forkserveHelpers.cmake")
