#pragma once
// The front end's HTTP/1.1 request parser: Beast's basic_parser underneath, with the framing
// rules of RFC 9112 a gateway must enforce itself (Beast is lenient where a proxy cannot be:
// request smuggling lives in the gaps between two parsers' readings of one byte stream).
//  - Transfer-Encoding other than exactly "chunked", or together with Content-Length: 400.
//  - obs-fold (a header line continued on the next line): 400.
//  - Host missing or repeated on HTTP/1.1, repeated on HTTP/1.0: 400.
//  - header fields (trailers included, which Beast does not bound) over max_header: 431;
//    a body over max_body: 413.
// Only the headers the gateway reads are kept (no field map per request). Pure: bytes in, a
// request or an error out, no I/O, so tests and the fuzzer drive it directly.
#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmgw/server/http_request.hpp"

namespace llmgw::server {

struct ParseLimits {
  std::uint64_t max_body = 8u << 20;
  std::uint32_t max_header = 16u << 10;
};

/// Why a request was refused before it reached a handler: the status to answer with.
struct FramingError {
  int status = 0;  // 400, 413 or 431; 0 = none
  std::string message;
};

class RequestParser final : private boost::beast::http::basic_parser<true> {
public:
  enum class Progress {
    need_more,    // feed more bytes
    header_done,  // request() has the method, target and headers; the body has not been read
    complete,     // request() is whole
    failed,       // error() says what to answer
  };

  explicit RequestParser(const ParseLimits& limits);

  /// Parses from the front of `bytes`; `consumed` is how many of them were used (the rest
  /// belongs to a later call, or to the next request on the connection). Reports header_done
  /// once, then parses the body on the next calls.
  Progress feed(std::string_view bytes, std::size_t& consumed);

  HttpRequest& request() { return request_; }
  const FramingError& error() const { return error_; }
  /// "Expect: 100-continue" was sent and the body has not arrived yet.
  bool expects_continue() const { return expect_continue_ && !is_done(); }
  /// The body is still to come (header_done was reported, complete not yet).
  bool body_pending() const { return header_reported_ && !is_done(); }
  int version() const { return version_; }

private:
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code&) override {}
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  Progress fail(int status, std::string message);
  bool reject(boost::beast::error_code& ec, int status, std::string message);

  ParseLimits limits_;
  HttpRequest request_;
  FramingError error_;
  int version_ = 11;
  bool header_reported_ = false;
  bool in_trailer_ = false;
  bool expect_continue_ = false;
  bool has_content_length_ = false;
  unsigned host_count_ = 0;
  unsigned transfer_encoding_count_ = 0;
  bool transfer_encoding_chunked_ = false;
  std::uint64_t trailer_bytes_ = 0;
  std::size_t header_scan_ = 0;  // bytes already searched for the header's end
};

}  // namespace llmgw::server
