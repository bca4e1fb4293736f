#include "llmgw/api/json.hpp"

#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

namespace llmgw::api {
namespace {

using nlohmann::json;
using value_t = json::value_t;


std::string at_byte(std::size_t position) { return "at byte " + std::to_string(position); }

void append_key(std::string& path, std::string_view key) {
  if (!path.empty()) {
    path += '.';
  }
  // Keys are client text: keep path segments short and printable.
  constexpr std::size_t kMaxKey = 40;
  for (std::size_t i = 0; i < key.size() && i < kMaxKey; ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    path += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (key.size() > kMaxKey) {
    path += "…";
  }
}

void append_index(std::string& path, std::size_t i) {
  path += '[';
  path += std::to_string(i);
  path += ']';
}

// nlohmann's json_sax_dom_parser plus a depth bound, duplicate-key detection and the path of
// the value being built (for the error message). Pointers into the tree stay valid: a container
// only grows while it is the innermost open one.
template <class J>
class BoundedBuilder {
public:
  using number_integer_t = typename J::number_integer_t;
  using number_unsigned_t = typename J::number_unsigned_t;
  using number_float_t = typename J::number_float_t;
  using string_t = typename J::string_t;
  using binary_t = typename J::binary_t;

  BoundedBuilder(J& root, const JsonLimits& limits) : root_(root), limits_(limits) {
    stack_.reserve(16);
  }

  bool null() { return put(J(nullptr)); }
  bool boolean(bool v) { return put(J(v)); }
  bool number_integer(number_integer_t v) { return put(J(v)); }
  bool number_unsigned(number_unsigned_t v) { return put(J(v)); }
  bool number_float(number_float_t v, const string_t&) { return put(J(v)); }
  bool string(string_t& v) { return put(J(std::move(v))); }
  bool binary(binary_t& v) { return put(J::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(value_t::object); }
  bool start_array(std::size_t) { return open(value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    auto& object = stack_.back().value->template get_ref<typename J::object_t&>();
    auto [it, inserted] = object.emplace(std::move(k), J());
    if (!inserted && limits_.reject_duplicate_keys) {
      error_.kind = JsonError::Kind::duplicate_key;
      error_.path = current_path();
      append_key(error_.path, it->first);
      error_.message = "has a duplicate key '" + error_.path + "'";
      return false;
    }
    member_ = &it->second;
    member_key_ = &it->first;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    error_.kind = JsonError::Kind::syntax;
    error_.message = "is not valid JSON (syntax error " + at_byte(position) + ")";
    return false;
  }

  JsonError& error() { return error_; }

private:
  struct Frame {
    J* value;
    const string_t* key;  // the member name in the parent object; null in an array / at the root
  };

  J* place(J&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    J* parent = stack_.back().value;
    if (parent->is_array()) {
      auto& array = parent->template get_ref<typename J::array_t&>();
      array.push_back(std::move(v));
      return &array.back();
    }
    *member_ = std::move(v);
    return member_;
  }

  bool put(J&& v) {
    place(std::move(v));
    return true;
  }

  bool open(value_t type) {
    if (stack_.size() >= limits_.max_depth) {
      error_.kind = JsonError::Kind::too_deep;
      error_.path = current_path();
      if (!stack_.empty()) {
        if (stack_.back().value->is_array()) {
          append_index(error_.path, stack_.back().value->size());
        } else {
          append_key(error_.path, *member_key_);
        }
      }
      error_.message = "nests deeper than " + std::to_string(limits_.max_depth) + " levels";
      return false;
    }
    const string_t* key = nullptr;
    if (!stack_.empty() && stack_.back().value->is_object()) {
      key = member_key_;
    }
    J* v = place(J(type));
    stack_.push_back(Frame{v, key});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  // The path of the innermost open container.
  std::string current_path() const {
    std::string path;
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const J* parent = stack_[i - 1].value;
      if (parent->is_array()) {
        append_index(path, parent->size() - 1);
      } else {
        append_key(path, *stack_[i].key);
      }
    }
    return path;
  }

  J& root_;
  const JsonLimits& limits_;
  std::vector<Frame> stack_;
  J* member_ = nullptr;
  const string_t* member_key_ = nullptr;
  JsonError error_;
};

template <class J>
common::Result<J, JsonError> parse_bounded(std::string_view text, const JsonLimits& limits) {
  if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
    auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - text.data());
    return common::err(JsonError{JsonError::Kind::nul_byte,
                                 "is not valid JSON (a NUL byte " + at_byte(at) + ")",
                                 {}});
  }
  J root;
  BoundedBuilder<J> builder(root, limits);
  bool ok = J::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                         /*strict=*/true);
  if (!ok) {
    return common::err(std::move(builder.error()));
  }
  return root;
}

// Validation without a tree: depth and syntax (the JSON grammar, as strict as nlohmann's
// parser: UTF-8, escapes, surrogate pairs, number syntax), plus the types of a few top-level
// members. Hand-written because it runs on every answer the gateway relays unparsed: nlohmann's
// lexer copies every string character by character into a token buffer.
class Scanner {
public:
  Scanner(std::string_view text, std::size_t max_depth,
          std::initializer_list<std::string_view> keys, JsonShape& shape)
      : p_(text.data()), end_(text.data() + text.size()), begin_(text.data()),
        max_depth_(max_depth), keys_(keys), shape_(shape) {}

  bool run() {
    skip_ws();
    if (!value(0, -1)) {
      return false;
    }
    skip_ws();
    if (p_ != end_) {
      return error("syntax error");
    }
    return true;
  }

private:
  bool error(const char* what) {
    if (shape_.problem.empty()) {
      shape_.problem = std::string("not valid JSON (") + what + " at byte " +
                       std::to_string(p_ - begin_) + ")";
    }
    return false;
  }

  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) {
      ++p_;
    }
  }

  void record(int wanted, json::value_t type) {
    if (wanted >= 0) {
      shape_.types[wanted] = type;
    }
  }

  // One value at `depth` (0 = the top). `wanted` is the index of the top-level key it belongs
  // to, or -1.
  bool value(std::size_t depth, int wanted) {
    if (p_ == end_) {
      return error("ends too early");
    }
    switch (*p_) {
      case '{':
        record(wanted, value_t::object);
        return container(depth, true);
      case '[':
        record(wanted, value_t::array);
        return container(depth, false);
      case '"':
        record(wanted, value_t::string);
        return string(nullptr);
      case 't':
        record(wanted, value_t::boolean);
        return literal("true");
      case 'f':
        record(wanted, value_t::boolean);
        return literal("false");
      case 'n':
        record(wanted, value_t::null);
        return literal("null");
      default:
        return number(wanted);
    }
  }

  // Iterative over the members, recursive over nesting: the recursion is bounded by max_depth.
  bool container(std::size_t depth, bool object) {
    if (depth >= max_depth_) {
      shape_.problem = "JSON nests deeper than " + std::to_string(max_depth_) + " levels";
      return false;
    }
    if (depth == 0 && object) {
      shape_.object = true;
    }
    ++p_;
    skip_ws();
    const char close = object ? '}' : ']';
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    for (;;) {
      int wanted = -1;
      if (object) {
        if (p_ == end_ || *p_ != '"') {
          return error("expected a key");
        }
        std::string_view key;
        if (!string(depth == 0 ? &key : nullptr)) {
          return false;
        }
        if (depth == 0) {
          wanted = wanted_index(key);
        }
        skip_ws();
        if (p_ == end_ || *p_ != ':') {
          return error("expected ':'");
        }
        ++p_;
        skip_ws();
      }
      if (!value(depth + 1, wanted)) {
        return false;
      }
      skip_ws();
      if (p_ == end_) {
        return error("ends too early");
      }
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (*p_ == close) {
        ++p_;
        return true;
      }
      return error("expected ',' or the end of the container");
    }
  }

  int wanted_index(std::string_view raw_key) {
    std::string unescaped;
    std::string_view key = raw_key;
    if (raw_key.find('\\') != std::string_view::npos) {
      unescaped = unescape(raw_key);
      key = unescaped;
    }
    int i = 0;
    for (auto want : keys_) {
      if (i < 4 && key == want) {
        return i;
      }
      ++i;
    }
    return -1;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return error("invalid literal");
    }
    p_ += word.size();
    return true;
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  bool number(int wanted) {
    const char* start = p_;
    bool negative = false;
    if (*p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ == end_ || !digit(*p_)) {
      return error("invalid value");
    }
    // Significant integer digits (past leading zeros) and the exponent, to tell whether the
    // number overflows a double: the parser refuses those ("number overflow").
    long magnitude = -1;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && digit(*p_)) {
        ++magnitude;
        ++p_;
      }
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !digit(*p_)) {
        return error("invalid number");
      }
      while (p_ != end_ && digit(*p_)) {
        ++p_;
      }
    }
    long exponent = 0;
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      bool minus = false;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) {
        minus = *p_ == '-';
        ++p_;
      }
      if (p_ == end_ || !digit(*p_)) {
        return error("invalid number");
      }
      while (p_ != end_ && digit(*p_)) {
        exponent = std::min(exponent * 10 + (*p_ - '0'), 100000L);
        ++p_;
      }
      if (minus) {
        exponent = -exponent;
      }
    }
    value_t type = value_t::number_float;
    if (integer) {
      std::uint64_t u = 0;
      std::int64_t i = 0;
      bool fits = negative ? std::from_chars(start, p_, i).ec == std::errc{}
                           : std::from_chars(start, p_, u).ec == std::errc{};
      if (fits) {
        type = negative ? value_t::number_integer : value_t::number_unsigned;
      }
    }
    if (type == value_t::number_float) {
      // About log10 of the value; with a zero integer part the fraction only lowers it.
      long scale = std::max(magnitude, 0L) + exponent;
      if (magnitude >= 0 && scale > 310) {
        return error("number overflow");
      }
      if (scale > 300) {
        std::string copy(start, p_);
        if (!std::isfinite(std::strtod(copy.c_str(), nullptr))) {
          return error("number overflow");
        }
      }
    }
    record(wanted, type);
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool read_u4(unsigned& out) {
    if (end_ - p_ < 4) {
      return error("invalid escape");
    }
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(p_[i]);
      if (h < 0) {
        return error("invalid escape");
      }
      out = out * 16 + static_cast<unsigned>(h);
    }
    p_ += 4;
    return true;
  }

  // Skips printable ASCII other than '"' and '\\', eight bytes at a time: most of an upstream
  // answer is string content, and this loop is most of the scan's cost.
  void skip_plain() {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    while (end_ - p_ >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p_, 8);
      std::uint64_t stop = (x & kHigh) | ((x - kOnes * 0x20) & ~x & kHigh) |
                           has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'));
      if (stop != 0) {
        break;
      }
      p_ += 8;
    }
    while (p_ != end_ && kPlain[static_cast<unsigned char>(*p_)]) {
      ++p_;
    }
  }

  static constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c < 0x80; ++c) {
      plain[c] = c != '"' && c != '\\';
    }
    return plain;
  }();

  // A string at p_ (on its opening quote). `raw` receives the text between the quotes.
  bool string(std::string_view* raw) {
    ++p_;
    const char* start = p_;
    for (;;) {
      skip_plain();
      if (p_ == end_) {
        return error("unterminated string");
      }
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (raw) {
          *raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
        }
        ++p_;
        return true;
      }
      if (c < 0x20) {
        return error("control character in a string");
      }
      if (c == '\\') {
        ++p_;
        if (p_ == end_) {
          return error("invalid escape");
        }
        char e = *p_++;
        if (e == 'u') {
          unsigned cp = 0;
          if (!read_u4(cp)) {
            return false;
          }
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return error("lone low surrogate");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
              return error("high surrogate without its low half");
            }
            p_ += 2;
            if (!read_u4(low)) {
              return false;
            }
            if (low < 0xDC00 || low > 0xDFFF) {
              return error("high surrogate without its low half");
            }
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          return error("invalid escape");
        }
        continue;
      }
      if (c < 0x80) {
        ++p_;
        continue;
      }
      // UTF-8: the same rules as the parser (no overlongs, no surrogates, nothing past
      // U+10FFFF).
      std::size_t len = (c & 0xE0) == 0xC0   ? 2
                        : (c & 0xF0) == 0xE0 ? 3
                        : (c & 0xF8) == 0xF0 ? 4
                                             : 0;
      if (len == 0 || static_cast<std::size_t>(end_ - p_) < len) {
        return error("invalid UTF-8");
      }
      std::uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      for (std::size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(p_[k]);
        if ((cc & 0xC0) != 0x80) {
          return error("invalid UTF-8");
        }
        cp = (cp << 6) | (cc & 0x3F);
      }
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return error("invalid UTF-8");
      }
      p_ += len;
    }
  }

  // Keys with escapes are rare: decoded only to compare them.
  static std::string unescape(std::string_view raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out += raw[i];
        continue;
      }
      char e = raw[++i];
      switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto u4 = [&](std::size_t at) {
            unsigned v = 0;
            for (std::size_t k = 0; k < 4; ++k) {
              v = v * 16 + static_cast<unsigned>(hex(raw[at + k]));
            }
            return v;
          };
          unsigned cp = u4(i + 1);
          i += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low = u4(i + 3);
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: out += e; break;  // " \ /
      }
    }
    return out;
  }

  const char* p_;
  const char* end_;
  const char* begin_;
  std::size_t max_depth_;
  std::initializer_list<std::string_view> keys_;
  JsonShape& shape_;
};

}  // namespace

common::Result<nlohmann::json, JsonError> parse_json(std::string_view text,
                                                     const JsonLimits& limits) {
  return parse_bounded<nlohmann::json>(text, limits);
}

common::Result<nlohmann::ordered_json, JsonError> parse_ordered_json(std::string_view text,
                                                                     const JsonLimits& limits) {
  return parse_bounded<nlohmann::ordered_json>(text, limits);
}

std::string shorten_path(std::string_view path, std::size_t max_chars) {
  if (path.size() <= max_chars) {
    return std::string(path);
  }
  auto half = max_chars / 2;
  return std::string(path.substr(0, half)) + "…" + std::string(path.substr(path.size() - half));
}

bool nesting_exceeds(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return true;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

JsonShape scan_json(std::string_view text, std::size_t max_depth,
                    std::initializer_list<std::string_view> keys) {
  JsonShape shape;
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
    shape.problem = "a NUL byte in JSON";
    return shape;
  }
  Scanner scanner(text, max_depth, keys, shape);
  shape.valid = scanner.run();
  return shape;
}

GatewayError json_error(const JsonError& e) {
  auto path = shorten_path(e.path);
  std::string message = "The request body " + e.message;
  if (!path.empty() && e.kind != JsonError::Kind::duplicate_key) {
    message += " at '" + path + "'";
  }
  return invalid_request(message + ".", path);
}

}  // namespace llmgw::api
