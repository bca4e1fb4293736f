#include "llmgw/api/json.hpp"

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

// Validation without a tree: depth and syntax, plus the types of a few top-level members.
class ShapeScanner {
public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  ShapeScanner(JsonShape& shape, std::size_t max_depth,
               std::initializer_list<std::string_view> keys)
      : shape_(shape), max_depth_(max_depth), keys_(keys) {}

  bool null() { return value(value_t::null); }
  bool boolean(bool) { return value(value_t::boolean); }
  bool number_integer(number_integer_t) { return value(value_t::number_integer); }
  bool number_unsigned(number_unsigned_t) { return value(value_t::number_unsigned); }
  bool number_float(number_float_t, const string_t&) { return value(value_t::number_float); }
  bool string(string_t&) { return value(value_t::string); }
  bool binary(binary_t&) { return value(value_t::binary); }
  bool start_object(std::size_t) {
    if (depth_ == 0) {
      shape_.object = true;
    }
    return open(value_t::object);
  }
  bool start_array(std::size_t) { return open(value_t::array); }
  bool end_object() {
    --depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(string_t& k) {
    wanted_ = -1;
    if (depth_ == 1) {
      int i = 0;
      for (auto want : keys_) {
        if (i < 4 && k == want) {
          wanted_ = i;
        }
        ++i;
      }
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    shape_.problem = "not valid JSON (syntax error at byte " + std::to_string(position) + ")";
    return false;
  }

private:
  bool value(value_t t) {
    if (depth_ == 1 && wanted_ >= 0) {
      shape_.types[wanted_] = t;
      wanted_ = -1;
    }
    return true;
  }
  bool open(value_t t) {
    value(t);
    if (++depth_ > max_depth_) {
      shape_.problem = "JSON nests deeper than " + std::to_string(max_depth_) + " levels";
      return false;
    }
    return true;
  }

  JsonShape& shape_;
  std::size_t max_depth_;
  std::initializer_list<std::string_view> keys_;
  std::size_t depth_ = 0;
  int wanted_ = -1;
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
  ShapeScanner scanner(shape, max_depth, keys);
  shape.valid = json::sax_parse(text.begin(), text.end(), &scanner,
                                json::input_format_t::json, /*strict=*/true);
  return shape;
}

}  // namespace llmgw::api
