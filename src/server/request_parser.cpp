#include "server/request_parser.hpp"

#include <algorithm>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "llmgw/common/strings.hpp"

namespace llmgw::server {
namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && common::iequals(s.substr(0, prefix.size()), prefix);
}

// The end of the header block ("\r\n\r\n"), searching from `from`; npos when not there yet.
std::size_t header_end(std::string_view bytes, std::size_t from) {
  auto pos = bytes.find("\r\n\r\n", from);
  return pos == std::string_view::npos ? pos : pos + 4;
}

// A line break inside the header block followed by a space or tab continues the previous
// field (obs-fold, RFC 9112 §5.2): Beast unfolds it, other parsers may not.
bool has_obs_fold(std::string_view header) {
  for (std::size_t i = header.find('\n'); i != std::string_view::npos && i + 1 < header.size();
       i = header.find('\n', i + 1)) {
    if (header[i + 1] == ' ' || header[i + 1] == '\t') {
      return true;
    }
  }
  return false;
}

void keep_first(std::string& slot, std::string_view value) {
  if (slot.empty()) {
    slot.assign(value.data(), value.size());
  }
}

}  // namespace

RequestParser::RequestParser(const ParseLimits& limits) : limits_(limits) {
  header_limit(limits.max_header);
  body_limit(limits.max_body);
  eager(false);  // stop after the header: the caller screens it before reading any body
}

RequestParser::Progress RequestParser::fail(int status, std::string message) {
  if (error_.status == 0) {
    error_.status = status;
    error_.message = std::move(message);
  }
  return Progress::failed;
}

bool RequestParser::reject(error_code& ec, int status, std::string message) {
  fail(status, std::move(message));
  ec = http::error::bad_field;  // any error stops Beast; error_ says what to answer
  return false;
}

RequestParser::Progress RequestParser::feed(std::string_view bytes, std::size_t& consumed) {
  consumed = 0;
  if (error_.status != 0) {
    return Progress::failed;
  }
  if (is_done()) {
    return Progress::complete;
  }
  if (bytes.empty()) {
    return Progress::need_more;
  }
  if (!is_header_done()) {
    // Beast parses a header only once it is whole; check the raw block first, because
    // obs-fold is invisible after Beast unfolds it.
    // The caller keeps unconsumed bytes in place, so the search resumes where it stopped (a
    // client sending one byte at a time must not cost a rescan of the whole header each time).
    auto end = header_end(bytes, header_scan_ > 3 ? header_scan_ - 3 : 0);
    header_scan_ = bytes.size();
    if (end == std::string_view::npos && bytes.size() > limits_.max_header) {
      return fail(431, "Request header fields exceed the limit of " +
                           std::to_string(limits_.max_header) + " bytes.");
    }
    if (end != std::string_view::npos) {
      if (end > limits_.max_header) {
        return fail(431, "Request header fields exceed the limit of " +
                             std::to_string(limits_.max_header) + " bytes.");
      }
      if (has_obs_fold(bytes.substr(0, end))) {
        return fail(400, "Header line folding (obs-fold) is not allowed.");
      }
    }
    // Incomplete: Beast still parses the request line at once, so garbage (a TLS
    // ClientHello on the plain port) is refused without waiting for a header end.
  }
  error_code ec;
  if (!is_header_done()) {
    consumed = put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  } else {
    // The body, at most max_header bytes per call: a chunk-size line or a trailer must end
    // within that many bytes however the bytes arrive (Beast would buffer one without bound,
    // and count a trailer only once it is whole).
    while (consumed < bytes.size() && !is_done()) {
      auto piece = std::min<std::size_t>(bytes.size() - consumed, limits_.max_header);
      auto used = put(boost::asio::buffer(bytes.data() + consumed, piece), ec);
      consumed += used;
      if (ec && ec != http::error::need_more) {
        break;
      }
      ec = {};
      if (used == 0) {
        if (piece == limits_.max_header) {
          return fail(431, "Request trailer or chunk header exceeds the limit of " +
                               std::to_string(limits_.max_header) + " bytes.");
        }
        break;  // the rest of a line is still to come
      }
    }
  }
  if (ec == http::error::need_more) {
    ec = {};
  }
  if (ec) {
    if (error_.status != 0) {
      return Progress::failed;
    }
    if (ec == http::error::header_limit) {
      return fail(431, "Request header fields exceed the limit of " +
                           std::to_string(limits_.max_header) + " bytes.");
    }
    if (ec == http::error::body_limit) {
      return fail(413, "Request body exceeds the limit of " + std::to_string(limits_.max_body) +
                           " bytes.");
    }
    return fail(400, "Malformed HTTP request: " + ec.message() + ".");
  }
  if (!header_reported_ && is_header_done()) {
    header_reported_ = true;
    request_.keep_alive = keep_alive();
    eager(true);
    return is_done() ? Progress::complete : Progress::header_done;
  }
  return is_done() ? Progress::complete : Progress::need_more;
}

void RequestParser::on_request_impl(http::verb, boost::beast::string_view method_sv,
                                    boost::beast::string_view target_sv, int version,
                                    error_code& ec) {
  std::string_view method_str(method_sv.data(), method_sv.size());
  std::string_view target(target_sv.data(), target_sv.size());
  version_ = version;  // Beast accepts only 1.0 and 1.1
  request_.method.assign(method_str.data(), method_str.size());
  std::string_view path = target;
  if (starts_with_nocase(target, "http://") || starts_with_nocase(target, "https://")) {
    // absolute-form (RFC 9112 §3.2.2): what follows the authority is the path.
    auto authority = target.find("://") + 3;
    auto slash = target.find_first_of("/?", authority);
    path = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    if (!path.empty() && path.front() == '?') {
      request_.query.assign(path.substr(1));
      request_.path = "/";
      return;
    }
  } else if (target == "*" && method_str == "OPTIONS") {
    request_.path = "*";
    return;
  } else if (target.empty() || target.front() != '/') {
    reject(ec, 400, "The request target must be a path (origin-form) or an absolute URL.");
    return;
  }
  auto q = path.find('?');
  request_.path.assign(path.substr(0, q));
  if (q != std::string_view::npos) {
    request_.query.assign(path.substr(q + 1));
  }
}

void RequestParser::on_field_impl(http::field name, boost::beast::string_view name_sv,
                                  boost::beast::string_view value_sv, error_code& ec) {
  std::string_view name_string(name_sv.data(), name_sv.size());
  std::string_view value(value_sv.data(), value_sv.size());
  if (in_trailer_) {
    // Trailer fields count against the same budget as the header; the gateway reads none.
    trailer_bytes_ += name_string.size() + value.size() + 4;
    if (trailer_bytes_ > limits_.max_header) {
      reject(ec, 431, "Request trailer fields exceed the limit of " +
                          std::to_string(limits_.max_header) + " bytes.");
    }
    return;
  }
  switch (name) {
    case http::field::host:
      ++host_count_;
      return;
    case http::field::transfer_encoding:
      ++transfer_encoding_count_;
      transfer_encoding_chunked_ = common::iequals(common::trim(value), "chunked");
      return;
    case http::field::content_length:
      has_content_length_ = true;
      return;
    case http::field::expect:
      expect_continue_ = common::iequals(common::trim(value), "100-continue");
      return;
    case http::field::authorization:
      if (!request_.authorization.empty()) {
        reject(ec, 400, "The Authorization header appears more than once.");
        return;
      }
      request_.authorization.assign(value);
      return;
    case http::field::user_agent:
      keep_first(request_.user_agent, value);
      return;
    case http::field::accept:
      // A list header: repeated fields join with commas (RFC 9110 §5.3).
      if (!request_.accept.empty()) {
        request_.accept += ',';
      }
      request_.accept.append(value);
      return;
    case http::field::cache_control:
      if (!request_.cache_control.empty()) {
        request_.cache_control += ',';
      }
      request_.cache_control.append(value);
      return;
    default:
      break;
  }
  if (name != http::field::unknown) {
    return;  // traceparent, x-api-key and the rest are unknown to Beast
  }
  if (common::iequals(name_string, "x-api-key")) {
    if (!request_.x_api_key.empty()) {
      reject(ec, 400, "The x-api-key header appears more than once.");
      return;
    }
    request_.x_api_key.assign(value);
  } else if (common::iequals(name_string, "x-request-id")) {
    keep_first(request_.request_id, value);
  } else if (common::iequals(name_string, "traceparent")) {
    keep_first(request_.traceparent, value);
  } else if (common::iequals(name_string, "tracestate")) {
    // A list header: repeated fields join with commas (RFC 9110 §5.3).
    if (!request_.tracestate.empty()) {
      request_.tracestate += ',';
    }
    request_.tracestate.append(value);
  } else if (common::iequals(name_string, "x-session-id")) {
    keep_first(request_.session_id, value);
  } else if (common::iequals(name_string, "x-llmgw-route-hint")) {
    keep_first(request_.route_hint, value);
  } else if (common::iequals(name_string, "x-llmgw-region")) {
    keep_first(request_.region, value);
  } else if (common::iequals(name_string, "x-llmgw-user")) {
    keep_first(request_.user, value);
  } else if (name_string.size() > 8 && common::iequals(name_string.substr(0, 8), "x-llmgw-") &&
             request_.select_headers.size() < HttpRequest::kMaxSelectHeaders) {
    std::string lower(name_string);
    for (auto& c : lower) {
      c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    request_.select_headers.emplace_back(std::move(lower), std::string(value));
  }
}

void RequestParser::on_header_impl(error_code& ec) {
  in_trailer_ = true;
  if (version_ == 11 && host_count_ != 1) {
    reject(ec, 400, host_count_ == 0 ? "HTTP/1.1 requests must have a Host header."
                                     : "The Host header appears more than once.");
    return;
  }
  if (host_count_ > 1) {
    reject(ec, 400, "The Host header appears more than once.");
    return;
  }
  if (transfer_encoding_count_ > 0) {
    // Only "chunked" alone: any other coding list is read differently by different parsers
    // (the classic request smuggling vector), and no client of this API needs one.
    if (transfer_encoding_count_ > 1 || !transfer_encoding_chunked_) {
      reject(ec, 400, "Transfer-Encoding must be exactly 'chunked'.");
      return;
    }
    if (has_content_length_) {
      reject(ec, 400, "Transfer-Encoding and Content-Length must not both be sent.");
      return;
    }
    if (version_ == 10) {
      reject(ec, 400, "Transfer-Encoding is not allowed on HTTP/1.0.");
      return;
    }
  }
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  if (content_length) {
    request_.body.reserve(static_cast<std::size_t>(*content_length));
  }
}

std::size_t RequestParser::on_body_impl(boost::beast::string_view body, error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                              error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code&) {}

}  // namespace llmgw::server
