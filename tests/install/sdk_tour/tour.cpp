#include "tour.hpp"

#include <forkserve/export.hpp>

FORKSERVE_EXPORT_HANDLER(Tour)
