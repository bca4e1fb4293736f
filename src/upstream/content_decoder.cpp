#include "upstream/content_decoder.hpp"

#include <zlib.h>

#include "llmgw/common/strings.hpp"

namespace llmgw::upstream {

struct ContentDecoder::Zlib {
  z_stream stream{};
  bool may_be_raw = false;    // "deflate": some servers send raw DEFLATE without the zlib header
  bool raw_fallback = false;
  bool started = false;
  Bytef* last_input = nullptr;  // where the latest input() began, to retry it as raw DEFLATE
  uInt last_size = 0;
  ~Zlib() { inflateEnd(&stream); }
};

ContentDecoder::ContentDecoder(std::unique_ptr<Zlib> z) : z_(std::move(z)) {}
ContentDecoder::~ContentDecoder() = default;

std::unique_ptr<ContentDecoder> ContentDecoder::make(std::string_view content_encoding,
                                                     std::string& error) {
  auto encoding = common::to_lower(common::trim(content_encoding));
  if (encoding.empty() || encoding == "identity") {
    return nullptr;
  }
  int window_bits = 0;
  if (encoding == "gzip" || encoding == "x-gzip") {
    window_bits = 16 + MAX_WBITS;
  } else if (encoding == "deflate") {
    window_bits = MAX_WBITS;  // zlib-wrapped, as RFC 9110 says; raw DEFLATE is tried too
  } else {
    error = "the upstream answered with Content-Encoding '" + encoding.substr(0, 32) +
            "', which the gateway cannot decode";
    return nullptr;
  }
  auto z = std::make_unique<Zlib>();
  z->may_be_raw = encoding == "deflate";
  if (inflateInit2(&z->stream, window_bits) != Z_OK) {
    error = "cannot initialise the decoder for Content-Encoding '" + encoding + "'";
    return nullptr;
  }
  return std::unique_ptr<ContentDecoder>(new ContentDecoder(std::move(z)));
}

void ContentDecoder::input(std::string_view encoded) {
  z_->stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(encoded.data()));
  z_->stream.avail_in = static_cast<uInt>(encoded.size());
  z_->last_input = z_->stream.next_in;
  z_->last_size = z_->stream.avail_in;
}

bool ContentDecoder::pending() const { return z_->stream.avail_in > 0 && !finished_; }

long ContentDecoder::decode(char* out, std::size_t capacity) {
  auto& s = z_->stream;
  s.next_out = reinterpret_cast<Bytef*>(out);
  s.avail_out = static_cast<uInt>(capacity);
  int rc = inflate(&s, Z_NO_FLUSH);
  if (rc == Z_DATA_ERROR && z_->may_be_raw && !z_->started && !z_->raw_fallback) {
    // "deflate" without its zlib header: start again as raw DEFLATE.
    z_->raw_fallback = true;
    auto* next = z_->last_input;
    auto avail = z_->last_size;
    inflateEnd(&s);
    s = z_stream{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
      error_ = "corrupt compressed body";
      return -1;
    }
    s.next_in = next;
    s.avail_in = avail;
    s.next_out = reinterpret_cast<Bytef*>(out);
    s.avail_out = static_cast<uInt>(capacity);
    rc = inflate(&s, Z_NO_FLUSH);
  }
  if (rc == Z_STREAM_END) {
    finished_ = true;
  } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
    error_ = std::string("corrupt compressed body (") + (s.msg ? s.msg : "zlib error") + ")";
    return -1;
  }
  auto written = static_cast<long>(capacity - s.avail_out);
  if (written > 0) {
    z_->started = true;
  }
  return written;
}

}  // namespace llmgw::upstream
