// The server as a function, so that main() is one line and an embedding
// program can run the same start-up.
#pragma once

namespace forkserve {

// Parses argv, loads the handler, opens the listeners and runs the
// supervisor; returns the process exit status (0, 1 start-up failed, 2 usage).
int server_main(int argc, char* argv[]);

}  // namespace forkserve
