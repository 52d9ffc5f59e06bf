#include <forkserve/export.hpp>

#include "tour.hpp"

FORKSERVE_EXPORT_HANDLER(Tour)
