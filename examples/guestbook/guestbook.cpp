// The guestbook (guestbook.hpp) as a module:
//     forkserve --handler guestbook.so:DATAFILE
#include "guestbook.hpp"

#include <forkserve/export.hpp>

FORKSERVE_EXPORT_HANDLER(Guestbook)
