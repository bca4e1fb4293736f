#pragma once
// The composition root: builds the object graph from a config file, owns the control thread
// (signals, reload, config file watch, admin listener) and drives drain on shutdown.
#include <string>

namespace llmgw::app {

/// Runs the daemon until SIGTERM/SIGINT and drain; returns the process exit code.
int run_daemon(const std::string& config_path);

/// Validates a config file; prints every error as FILE:LINE:COL: key.path: message.
int check_config(const std::string& config_path);

}  // namespace llmgw::app
