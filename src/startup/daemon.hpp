// --daemon: detach from the terminal and the launching shell.
#pragma once

#include <string>

#include "net/io.hpp"

namespace forkserve {

// fork, setsid, fork: the daemon is no session leader, so it can never get a
// controlling terminal back. It changes to "/" (so it pins no mount; every
// path it still uses was made absolute or opened already) and points stdin
// at /dev/null, stderr too unless `keep_stderr` (the error log is a file).
// Its stdout becomes a pipe to the launching process, which copies the first
// `startup_lines` lines (the master loop's start-up lines) to its own stdout
// and exits 0, or exits 1 if the daemon ended before writing them: so when
// `forkserve --daemon` returns, the server is accepting and a script knows
// its port. Returns only in the daemon; false with `error` if it could not
// detach (still in the foreground, nothing forked). `dev_null` is opened by
// the caller on /dev/null before any chroot, where there may be none.
bool daemonize(UniqueFd dev_null, int startup_lines, bool keep_stderr, std::string& error);

}  // namespace forkserve
