#include "server_main.hpp"

int main(int argc, char* argv[]) { return forkserve::server_main(argc, argv); }
