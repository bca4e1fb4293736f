#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/config/config.hpp"

namespace llmgw::config {

/// One problem in a config file, printed as `FILE:LINE:COL: path.to.key: message`.
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string path;  // e.g. "providers[1].timeouts.connect"
  std::string message;
  std::string to_string() const;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is non-empty
  std::vector<ConfigError> errors;       // every error found, in file order
  bool ok() const { return config != nullptr; }
};

/// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

/// Parses, expands ${VAR} / ${VAR:-default}, applies defaults and validates (types, ranges,
/// unknown keys, cross references). Collects all errors rather than stopping at the first.
LoadResult load_string(std::string_view yaml, std::string file_name,
                       const EnvLookup& env = process_env());
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env());

/// "250ms", "2s", "5m", "1h", "1d" (also "1.5s"); nullopt when malformed.
std::optional<Duration> parse_duration(std::string_view text);
/// "8MiB", "512KiB", "1GiB", "1MB", "100" (bytes); nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// retry.on as written → the conditions the router checks (unknown entries are ignored; the
/// loader reports them).
RetryConditions parse_retry_conditions(const std::vector<std::string>& on);

/// The running config as JSON text with secrets (api keys, key hashes, redis passwords)
/// replaced by "<redacted>", for GET /admin/config.
std::string to_redacted_json(const Config& config);

}  // namespace llmgw::config
