// The JSON API example (json_api.hpp) as a module: forkserve --handler json_api.so
#include "json_api.hpp"

#include <forkserve/export.hpp>

FORKSERVE_EXPORT_HANDLER(JsonApi)
