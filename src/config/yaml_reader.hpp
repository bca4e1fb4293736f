#pragma once
// Typed, error-collecting access to a yaml-cpp document. Every problem is recorded with the
// position and schema path of the value at fault and reading carries on, so one load reports
// every error in the file.
#include <yaml-cpp/yaml.h>

#include <array>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/detail.hpp"
#include "llmgw/config/loader.hpp"

namespace llmgw::config::detail {

/// A YAML value, with where it is and how to name it in an error.
struct Value {
  YAML::Node node;
  YAML::Mark mark;  // the value's own position, or its key's when the value is empty
  std::string path;
};

Position to_position(const YAML::Mark& mark);
std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

/// The state of one load: the errors found so far and the environment for ${VAR} expansion.
class Reader {
 public:
  Reader(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

  void error(const YAML::Mark& mark, std::string path, std::string message);
  void error(const Value& at, std::string message) { error(at.mark, at.path, std::move(message)); }

  /// The text of a scalar with ${VAR} and ${VAR:-default} expanded. Reports "expected
  /// `expected`" for a mapping, list or empty value.
  std::optional<std::string> scalar(const Value& v, std::string_view expected);
  std::optional<std::string> expand(std::string_view text, const Value& at);

  /// Every error, in file order.
  std::vector<ConfigError> take_errors();

 private:
  std::string file_;
  const EnvLookup& env_;
  std::vector<ConfigError> errors_;
};

// Conversions. Each reports its own error and returns nullopt on failure.
std::optional<std::string> read_string(Reader& r, const Value& v);  // empty value -> ""
std::optional<bool> read_bool(Reader& r, const Value& v);
std::optional<std::uint64_t> read_uint(Reader& r, const Value& v, std::uint64_t min,
                                       std::uint64_t max);
std::optional<double> read_double(Reader& r, const Value& v, double min, double max);
std::optional<Duration> read_duration(Reader& r, const Value& v, Duration min);
std::optional<std::uint64_t> read_size(Reader& r, const Value& v, std::uint64_t min,
                                       std::uint64_t max);
/// The items of a list, each with its own path ("x[2]"); an empty value is an empty list.
std::optional<std::vector<Value>> read_list(Reader& r, const Value& v);
/// One of `allowed`, reported as "unknown WHAT 'x' (expected one of: ...)".
std::optional<std::string> read_choice(Reader& r, const Value& v,
                                       std::span<const std::string_view> allowed,
                                       std::string_view what);

template <class E, std::size_t N>
std::optional<E> read_enum(Reader& r, const Value& v, const std::array<EnumName<E>, N>& table,
                           std::string_view what) {
  std::array<std::string_view, N> names;
  for (std::size_t i = 0; i < N; ++i) {
    names[i] = table[i].name;
  }
  auto text = read_choice(r, v, names, what);
  if (!text) {
    return std::nullopt;
  }
  for (const auto& entry : table) {
    if (entry.name == *text) {
      return entry.value;
    }
  }
  return std::nullopt;
}

/// A mapping whose keys are checked against the schema on construction.
class MapReader {
 public:
  /// Reports a value that is not a mapping (an empty value counts as an empty mapping),
  /// duplicate keys, and keys outside `allowed` (with a "did you mean" hint). `<<` merge keys
  /// are honoured, explicit keys winning over merged ones.
  MapReader(Reader& r, const Value& v, std::initializer_list<std::string_view> allowed);

  /// Any key accepted: for user-defined maps such as extra headers.
  static MapReader any_keys(Reader& r, const Value& v);

  bool ok() const { return ok_; }
  const Value& self() const { return self_; }

  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Value value;
  };
  const std::vector<Entry>& entries() const { return entries_; }

  std::optional<Value> get(std::string_view key) const;
  /// Like get(), reporting "missing required key" at the mapping when absent.
  std::optional<Value> require(std::string_view key) const;

  // Typed reads into a field. Absent or invalid keys leave `out` as it was (the default).
  void read(std::string_view key, std::string& out) const;
  void read(std::string_view key, bool& out) const;
  void read(std::string_view key, unsigned& out, std::uint64_t min, std::uint64_t max) const;
  void read(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max) const;
  void read(std::string_view key, std::optional<std::uint64_t>& out, std::uint64_t min,
            std::uint64_t max) const;
  void read(std::string_view key, std::optional<unsigned>& out, std::uint64_t min,
            std::uint64_t max) const;
  void read(std::string_view key, double& out, double min, double max) const;
  void read(std::string_view key, std::optional<double>& out, double min, double max) const;
  void read(std::string_view key, Duration& out, Duration min) const;
  void read(std::string_view key, std::optional<Duration>& out, Duration min) const;
  void read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                 std::uint64_t max) const;

  template <class E, std::size_t N>
  void read(std::string_view key, E& out, const std::array<EnumName<E>, N>& table) const {
    if (auto v = get(key)) {
      if (auto e = read_enum(r_, *v, table, key)) {
        out = *e;
      }
    }
  }

 private:
  MapReader(Reader& r, const Value& v);
  void collect(const YAML::Node& node, bool merged, unsigned depth = 0);

  Reader& r_;
  Value self_;
  std::vector<Entry> entries_;
  unsigned merges_followed_ = 0;  // bounds merge-key cycles and fan-out (collect)
  bool merge_limit_reported_ = false;
  bool ok_ = false;
};

}  // namespace llmgw::config::detail
