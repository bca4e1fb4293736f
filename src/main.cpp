// argv, then hand over to the app. Nothing else lives here.
#include <cstring>
#include <iostream>
#include <string>

#include "llmgw/app/app.hpp"

#ifndef LLMGW_VERSION
#define LLMGW_VERSION "0.0.0"
#endif

namespace {

void usage(std::ostream& out) {
  out << "usage: llmgw --config FILE        run the gateway\n"
         "       llmgw --check-config FILE  validate a config file and exit 0/1\n"
         "       llmgw --version            print the version\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "llmgw " << LLMGW_VERSION << "\n";
    return 0;
  }
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    usage(std::cout);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--config") == 0) {
    return llmgw::app::run_daemon(argv[2]);
  }
  if (argc == 3 && std::strcmp(argv[1], "--check-config") == 0) {
    return llmgw::app::check_config(argv[2]);
  }
  usage(std::cerr);
  return 2;
}
