#include <forkserve/server.hpp>

int main(int argc, char* argv[]) { return forkserve::server_main(argc, argv); }
