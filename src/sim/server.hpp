#pragma once
#include <optional>
#include <string>
#include <vector>

#include "faults.hpp"

namespace llmgw::sim {

struct Options {
  std::string name = "sim";
  std::string listen = "127.0.0.1:0";
  std::string control_listen;  // empty: no control listener
  int threads = 1;
  std::string api_key;
  std::vector<std::string> models{"sim-model"};
  std::string tls_cert;
  std::string tls_key;
  std::optional<FaultSpec> fault;
};

/// Binds, prints one "listening" line per listener and serves until SIGINT/SIGTERM.
/// Returns the process exit code.
int run(const Options& options);

}  // namespace llmgw::sim
