#pragma once
// Content-Encoding of upstream answers. The gateway asks for identity, but a provider (or a
// proxy in front of it) may compress anyway: gzip and deflate are decoded as the body arrives,
// so the stream translators see plain bytes; anything else is refused (never forwarded as if it
// were plain text).
#include <memory>
#include <string>
#include <string_view>

namespace llmgw::upstream {

class ContentDecoder {
public:
  /// The decoder for a Content-Encoding value; null for identity (or none). Sets `error` and
  /// returns null for an encoding that cannot be decoded.
  static std::unique_ptr<ContentDecoder> make(std::string_view content_encoding,
                                              std::string& error);

  ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  /// Sets the next encoded input; it must stay valid until pending() is false.
  void input(std::string_view encoded);
  /// Whether input remains to be decoded.
  bool pending() const;
  /// Decodes into `out` (up to its capacity); returns the bytes written, or -1 with `error()`
  /// set when the data is corrupt.
  long decode(char* out, std::size_t capacity);
  /// The encoded stream reached its proper end.
  bool finished() const { return finished_; }
  const std::string& error() const { return error_; }

private:
  struct Zlib;
  explicit ContentDecoder(std::unique_ptr<Zlib> z);
  std::unique_ptr<Zlib> z_;
  bool finished_ = false;
  std::string error_;
};

}  // namespace llmgw::upstream
