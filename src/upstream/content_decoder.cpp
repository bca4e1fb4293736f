#include "upstream/content_decoder.hpp"

#include <zlib.h>

#include "llmgw/common/strings.hpp"

namespace llmgw::upstream {

struct ContentDecoder::Zlib {
  z_stream stream{};
  bool initialised = false;
  // "deflate" is zlib-wrapped by RFC 9110, but some servers send raw DEFLATE: the first two
  // bytes tell which, so they are collected (copied) before the decoder starts.
  bool undecided = false;
  std::string head;
  ~Zlib() {
    if (initialised) {
      inflateEnd(&stream);
    }
  }
  bool init(int window_bits) {
    initialised = inflateInit2(&stream, window_bits) == Z_OK;
    return initialised;
  }
};

ContentDecoder::ContentDecoder(std::unique_ptr<Zlib> z) : z_(std::move(z)) {}
ContentDecoder::~ContentDecoder() = default;

std::unique_ptr<ContentDecoder> ContentDecoder::make(std::string_view content_encoding,
                                                     std::string& error) {
  auto encoding = common::to_lower(common::trim(content_encoding));
  if (encoding.empty() || encoding == "identity") {
    return nullptr;
  }
  auto z = std::make_unique<Zlib>();
  if (encoding == "gzip" || encoding == "x-gzip") {
    if (!z->init(16 + MAX_WBITS)) {
      error = "cannot initialise the gzip decoder";
      return nullptr;
    }
  } else if (encoding == "deflate") {
    z->undecided = true;
  } else {
    error = "the upstream answered with Content-Encoding '" + encoding.substr(0, 32) +
            "', which the gateway cannot decode";
    return nullptr;
  }
  return std::unique_ptr<ContentDecoder>(new ContentDecoder(std::move(z)));
}

void ContentDecoder::input(std::string_view encoded) {
  auto& z = *z_;
  if (z.undecided) {
    z.head.append(encoded);
    if (z.head.size() < 2) {
      return;
    }
    auto cmf = static_cast<unsigned char>(z.head[0]);
    auto flg = static_cast<unsigned char>(z.head[1]);
    bool zlib_header = (cmf & 0x0f) == 8 && ((cmf << 8) | flg) % 31 == 0;
    z.undecided = false;
    if (!z.init(zlib_header ? MAX_WBITS : -MAX_WBITS)) {
      error_ = "cannot initialise the deflate decoder";
      return;
    }
    encoded = z.head;  // owned: stays valid until consumed
  }
  z.stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(encoded.data()));
  z.stream.avail_in = static_cast<uInt>(encoded.size());
}

bool ContentDecoder::pending() const {
  return z_->initialised && z_->stream.avail_in > 0 && !finished_;
}

long ContentDecoder::decode(char* out, std::size_t capacity) {
  if (!error_.empty()) {
    return -1;
  }
  auto& s = z_->stream;
  s.next_out = reinterpret_cast<Bytef*>(out);
  s.avail_out = static_cast<uInt>(capacity);
  int rc = inflate(&s, Z_NO_FLUSH);
  if (rc == Z_STREAM_END) {
    finished_ = true;
  } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
    error_ = std::string("corrupt compressed body (") + (s.msg ? s.msg : "zlib error") + ")";
    return -1;
  }
  return static_cast<long>(capacity - s.avail_out);
}

}  // namespace llmgw::upstream
