// The guestbook (guestbook.hpp) as a module:
//     forkserve --handler guestbook.so:DATAFILE
#include <forkserve/export.hpp>

#include "guestbook.hpp"

FORKSERVE_EXPORT_HANDLER(Guestbook)
