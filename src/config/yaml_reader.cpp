#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "llmgw/common/strings.hpp"

namespace llmgw::config::detail {
namespace {

constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();

// Shortest exact form, so limits print as written ("between 0 and 1", not "0.000000"), and
// independent of the process locale.
std::string format_number(double x) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  return ec == std::errc{} ? std::string(buffer, end) : std::string("?");
}

// Limits at or past the field's type maximum are technical, not advice: leave them unsaid.
std::string range_message(std::uint64_t value, bool negative, std::uint64_t min,
                          std::uint64_t max) {
  if (max >= std::numeric_limits<unsigned>::max()) {
    if (negative || value < min) {
      return "must be at least " + std::to_string(min);
    }
    return "must be at most " + std::to_string(max);
  }
  return "must be between " + std::to_string(min) + " and " + std::to_string(max);
}

bool is_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// "12" or "1.5": a number someone forgot to give a unit.
bool is_plain_number(std::string_view s) {
  s = common::trim(s);
  if (s.empty()) {
    return false;
  }
  bool dot = false;
  for (char c : s) {
    if (c == '.' && !dot) {
      dot = true;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

Value make_value(const YAML::Node& node, const YAML::Mark& fallback, std::string path) {
  // yaml-cpp marks an empty value at the next token, often on the following line; the key's
  // own position is where a reader would look.
  return Value{node, node.IsNull() ? fallback : node.Mark(), std::move(path)};
}

}  // namespace

Position to_position(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string_view closest_match(std::string_view word,
                               std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = 3;  // at most 2 edits away
  for (auto candidate : candidates) {
    auto d = edit_distance(word, candidate);
    // Two edits turn any two-letter word into any other: demand the words be longer than that.
    if (d < best_distance && d < std::min(word.size(), candidate.size())) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

// --- Reader -------------------------------------------------------------------------------

void Reader::error(const YAML::Mark& mark, std::string path, std::string message) {
  auto pos = to_position(mark);
  errors_.push_back(ConfigError{file_, pos.line, pos.column, std::move(path), std::move(message)});
}

std::optional<std::string> Reader::scalar(const Value& v, std::string_view expected) {
  if (!v.node.IsScalar()) {
    error(v, "expected " + std::string(expected));
    return std::nullopt;
  }
  auto text = expand(v.node.Scalar(), v);
  if (text && !common::valid_utf8(*text)) {
    // JSON (requests, /admin/config) cannot carry it, and nothing downstream should guess.
    error(v, "is not valid UTF-8");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Reader::expand(std::string_view text, const Value& at) {
  std::string out;
  bool ok = true;
  std::size_t i = 0;
  while (i < text.size()) {
    auto open = text.find("${", i);
    if (open == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, open - i));
    auto close = text.find('}', open + 2);
    if (close == std::string_view::npos) {
      error(at, "unterminated '${' (expected ${NAME} or ${NAME:-default})");
      return std::nullopt;
    }
    auto inner = text.substr(open + 2, close - open - 2);
    auto name = inner;
    std::optional<std::string_view> fallback;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    i = close + 1;
    if (!is_env_name(name)) {
      error(at, "invalid environment variable name '" + std::string(name) + "'");
      ok = false;
      continue;
    }
    auto value = env_(name);
    // Shell semantics: ":-" also replaces a variable that is set but empty.
    if (value && !value->empty()) {
      out += *value;
    } else if (fallback) {
      out.append(*fallback);
    } else if (!value) {
      error(at, "environment variable '" + std::string(name) + "' is not set (write ${" +
                    std::string(name) + ":-} to allow that)");
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

std::vector<ConfigError> Reader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(errors_);
}

// --- conversions ----------------------------------------------------------------------------

std::optional<std::string> read_string(Reader& r, const Value& v) {
  if (v.node.IsNull()) {
    return std::string();
  }
  return r.scalar(v, "a string");
}

std::optional<bool> read_bool(Reader& r, const Value& v) {
  auto text = r.scalar(v, "a boolean (true or false)");
  if (!text) {
    return std::nullopt;
  }
  auto t = common::to_lower(common::trim(*text));
  // YAML 1.1 spellings too: configs written for other tools use them.
  if (t == "true" || t == "yes" || t == "on") {
    return true;
  }
  if (t == "false" || t == "no" || t == "off") {
    return false;
  }
  r.error(v, "expected a boolean (true or false), got '" + *text + "'");
  return std::nullopt;
}

std::optional<std::uint64_t> read_uint(Reader& r, const Value& v, std::uint64_t min,
                                       std::uint64_t max) {
  auto text = r.scalar(v, "an integer");
  if (!text) {
    return std::nullopt;
  }
  auto t = common::trim(*text);
  bool negative = !t.empty() && t.front() == '-';
  if (negative) {
    t.remove_prefix(1);
  }
  std::uint64_t value = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || p != t.data() + t.size() || ec == std::errc::invalid_argument) {
    r.error(v, "expected an integer, got '" + *text + "'");
    return std::nullopt;
  }
  if (negative || ec == std::errc::result_out_of_range || value < min || value > max) {
    r.error(v, range_message(ec == std::errc::result_out_of_range ? kNoMax : value, negative, min,
                             max));
    return std::nullopt;
  }
  return value;
}

std::optional<double> read_double(Reader& r, const Value& v, double min, double max) {
  auto text = r.scalar(v, "a number");
  if (!text) {
    return std::nullopt;
  }
  auto t = common::trim(*text);
  double value = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc{} || p != t.data() + t.size() || !std::isfinite(value)) {
    r.error(v, "expected a number, got '" + *text + "'");
    return std::nullopt;
  }
  if (value < min || value > max) {
    if (max == std::numeric_limits<double>::max()) {
      r.error(v, "must be at least " + format_number(min));
    } else {
      r.error(v, "must be between " + format_number(min) + " and " + format_number(max));
    }
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> read_duration(Reader& r, const Value& v, Duration min) {
  auto text = r.scalar(v, "a duration (e.g. 250ms, 2s, 5m)");
  if (!text) {
    return std::nullopt;
  }
  auto d = parse_duration(*text);
  if (!d) {
    if (is_plain_number(*text)) {
      r.error(v, "duration needs a unit (e.g. " + std::string(common::trim(*text)) + "s or " +
                     std::string(common::trim(*text)) + "ms)");
    } else {
      r.error(v, "invalid duration '" + *text + "' (expected e.g. 250ms, 2s, 5m, 1h, 1d)");
    }
    return std::nullopt;
  }
  if (*d < min) {
    r.error(v, min == Duration{1} ? std::string("must be greater than 0")
                                  : "must be at least " + format_duration(min));
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> read_size(Reader& r, const Value& v, std::uint64_t min,
                                       std::uint64_t max) {
  auto text = r.scalar(v, "a size (e.g. 8MiB)");
  if (!text) {
    return std::nullopt;
  }
  auto size = parse_size(*text);
  if (!size) {
    r.error(v, "invalid size '" + *text + "' (expected e.g. 8MiB, 512KiB, 1GB or a byte count)");
    return std::nullopt;
  }
  if (*size < min || *size > max) {
    r.error(v, max == kNoMax ? "must be at least " + format_size(min)
                             : "must be between " + format_size(min) + " and " + format_size(max));
    return std::nullopt;
  }
  return size;
}

std::optional<std::vector<Value>> read_list(Reader& r, const Value& v) {
  std::vector<Value> items;
  if (v.node.IsNull()) {
    return items;
  }
  if (!v.node.IsSequence()) {
    r.error(v, "expected a list");
    return std::nullopt;
  }
  std::size_t i = 0;
  for (const auto& item : v.node) {
    items.push_back(make_value(item, v.mark, index_path(v.path, i++)));
  }
  return items;
}

std::optional<std::string> read_choice(Reader& r, const Value& v,
                                       std::span<const std::string_view> allowed,
                                       std::string_view what) {
  auto text = r.scalar(
      v, "one of: " + [&] {
        std::string list;
        for (auto a : allowed) {
          list += (list.empty() ? "" : ", ") + std::string(a);
        }
        return list;
      }());
  if (!text) {
    return std::nullopt;
  }
  if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) {
    return text;
  }
  std::string message = "unknown " + std::string(what) + " '" + *text + "' (expected one of: ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    message += (i ? ", " : "") + std::string(allowed[i]);
  }
  message += ")";
  r.error(v, std::move(message));
  return std::nullopt;
}

// --- MapReader ------------------------------------------------------------------------------

MapReader::MapReader(Reader& r, const Value& v) : r_(r), self_(v) {
  if (v.node.IsNull()) {
    ok_ = true;
    return;
  }
  if (!v.node.IsMap()) {
    r_.error(v, "expected a mapping");
    return;
  }
  ok_ = true;
  collect(v.node, false);
}

MapReader::MapReader(Reader& r, const Value& v, std::initializer_list<std::string_view> allowed)
    : MapReader(r, v) {
  std::vector<std::string_view> names(allowed);
  for (const auto& e : entries_) {
    if (std::find(names.begin(), names.end(), e.key) != names.end()) {
      continue;
    }
    std::string message = "unknown key '" + e.key + "'";
    if (auto hint = closest_match(e.key, names); !hint.empty()) {
      message += " (did you mean '" + std::string(hint) + "'?)";
    }
    r_.error(e.key_mark, join_path(self_.path, e.key), std::move(message));
  }
}

MapReader MapReader::any_keys(Reader& r, const Value& v) {
  return MapReader(r, v);
}

void MapReader::collect(const YAML::Node& node, bool merged, unsigned depth) {
  // An anchor may merge itself (`&a { <<: *a }`), and lists of merges can fan out without end:
  // both are bounded, or loading the config would never finish (found by fuzz_config).
  constexpr unsigned kMaxMergeDepth = 16;
  constexpr unsigned kMaxMerges = 1000;
  if (depth > kMaxMergeDepth || ++merges_followed_ > kMaxMerges) {
    if (!merge_limit_reported_) {
      merge_limit_reported_ = true;
      r_.error(make_value(node, self_.mark, join_path(self_.path, "<<")),
               "merge keys (<<) nest too deep or too often (does an anchor merge itself?)");
    }
    return;
  }
  std::vector<YAML::Node> merges;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies, not references: the iterator hands out a temporary pair.
    YAML::Node key = it->first;
    YAML::Node value = it->second;
    if (!key.IsScalar()) {
      r_.error(make_value(key, self_.mark, self_.path), "expected a plain key");
      continue;
    }
    const std::string& name = key.Scalar();
    if (name == "<<" && key.Tag() == "?") {
      merges.push_back(value);
      continue;
    }
    auto existing = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return e.key == name; });
    if (existing != entries_.end()) {
      // A merged key is overridden by the explicit one; two explicit ones are a mistake that
      // yaml-cpp would otherwise resolve silently.
      if (!merged) {
        r_.error(key.Mark(), join_path(self_.path, name),
                 "duplicate key '" + name + "' (first at line " +
                     std::to_string(existing->key_mark.line + 1) + ")");
      }
      continue;
    }
    entries_.push_back(
        Entry{name, key.Mark(), make_value(value, key.Mark(), join_path(self_.path, name))});
  }
  // Merged after the explicit keys so those take precedence, as the YAML merge spec says.
  for (const auto& m : merges) {
    std::vector<YAML::Node> sources;
    if (m.IsMap()) {
      sources.push_back(m);
    } else if (m.IsSequence()) {
      for (const auto& item : m) {
        sources.push_back(item);
      }
    }
    for (const auto& source : sources) {
      if (!source.IsMap()) {
        r_.error(make_value(m, self_.mark, join_path(self_.path, "<<")),
                 "expected a mapping or a list of mappings to merge");
        break;
      }
      collect(source, true, depth + 1);
    }
    if (sources.empty()) {
      r_.error(make_value(m, self_.mark, join_path(self_.path, "<<")),
               "expected a mapping or a list of mappings to merge");
    }
  }
}

std::optional<Value> MapReader::get(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) {
      return e.value;
    }
  }
  return std::nullopt;
}

std::optional<Value> MapReader::require(std::string_view key) const {
  auto v = get(key);
  if (!v && ok_) {
    r_.error(self_.mark, join_path(self_.path, key),
             "missing required key '" + std::string(key) + "'");
  }
  return v;
}

void MapReader::read(std::string_view key, std::string& out) const {
  if (auto v = get(key)) {
    if (auto s = read_string(r_, *v)) {
      out = std::move(*s);
    }
  }
}

void MapReader::read(std::string_view key, bool& out) const {
  if (auto v = get(key)) {
    if (auto b = read_bool(r_, *v)) {
      out = *b;
    }
  }
}

void MapReader::read(std::string_view key, unsigned& out, std::uint64_t min,
                     std::uint64_t max) const {
  max = std::min<std::uint64_t>(max, std::numeric_limits<unsigned>::max());
  if (auto v = get(key)) {
    if (auto n = read_uint(r_, *v, min, max)) {
      out = static_cast<unsigned>(*n);
    }
  }
}

void MapReader::read(std::string_view key, std::uint64_t& out, std::uint64_t min,
                     std::uint64_t max) const {
  if (auto v = get(key)) {
    if (auto n = read_uint(r_, *v, min, max)) {
      out = *n;
    }
  }
}

void MapReader::read(std::string_view key, std::optional<std::uint64_t>& out, std::uint64_t min,
                     std::uint64_t max) const {
  if (auto v = get(key)) {
    if (auto n = read_uint(r_, *v, min, max)) {
      out = *n;
    }
  }
}

void MapReader::read(std::string_view key, std::optional<unsigned>& out, std::uint64_t min,
                     std::uint64_t max) const {
  max = std::min<std::uint64_t>(max, std::numeric_limits<unsigned>::max());
  if (auto v = get(key)) {
    if (auto n = read_uint(r_, *v, min, max)) {
      out = static_cast<unsigned>(*n);
    }
  }
}

void MapReader::read(std::string_view key, double& out, double min, double max) const {
  if (auto v = get(key)) {
    if (auto n = read_double(r_, *v, min, max)) {
      out = *n;
    }
  }
}

void MapReader::read(std::string_view key, std::optional<double>& out, double min,
                     double max) const {
  if (auto v = get(key)) {
    if (auto n = read_double(r_, *v, min, max)) {
      out = *n;
    }
  }
}

void MapReader::read(std::string_view key, Duration& out, Duration min) const {
  if (auto v = get(key)) {
    if (auto d = read_duration(r_, *v, min)) {
      out = *d;
    }
  }
}

void MapReader::read(std::string_view key, std::optional<Duration>& out, Duration min) const {
  if (auto v = get(key)) {
    if (auto d = read_duration(r_, *v, min)) {
      out = *d;
    }
  }
}

void MapReader::read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                          std::uint64_t max) const {
  if (auto v = get(key)) {
    if (auto n = detail::read_size(r_, *v, min, max)) {
      out = *n;
    }
  }
}

}  // namespace llmgw::config::detail
