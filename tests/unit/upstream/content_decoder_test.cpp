#include "upstream/content_decoder.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace llmgw::upstream {
namespace {

// window_bits: 16+15 gzip, 15 zlib, -15 raw deflate.
std::string compress(std::string_view plain, int window_bits) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(plain.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

// Decodes `encoded` fed in slices of `step`, with a small output buffer (so one input slice
// takes several decode calls).
std::string decode(ContentDecoder& d, std::string_view encoded, std::size_t step, bool& ok) {
  std::string plain;
  char out[37];
  ok = true;
  for (std::size_t i = 0; i < encoded.size(); i += step) {
    d.input(encoded.substr(i, std::min(step, encoded.size() - i)));
    while (d.pending()) {
      auto n = d.decode(out, sizeof out);
      if (n < 0) {
        ok = false;
        return plain;
      }
      plain.append(out, static_cast<std::size_t>(n));
    }
  }
  return plain;
}

TEST(ContentDecoder, IdentityNeedsNoDecoder) {
  std::string error;
  EXPECT_EQ(ContentDecoder::make("", error), nullptr);
  EXPECT_EQ(ContentDecoder::make(" Identity ", error), nullptr);
  EXPECT_TRUE(error.empty());
}

TEST(ContentDecoder, UnknownEncodingsAreRefused) {
  std::string error;
  EXPECT_EQ(ContentDecoder::make("br", error), nullptr);
  EXPECT_NE(error.find("'br'"), std::string::npos);
}

TEST(ContentDecoder, GzipZlibAndRawDeflateAtAnySplit) {
  std::string plain;
  for (int i = 0; i < 200; ++i) {
    plain += "data: {\"choices\":[{\"delta\":{\"content\":\"token " + std::to_string(i) + "\"}}]}\n\n";
  }
  struct Case {
    const char* encoding;
    int window_bits;
  };
  for (auto c : {Case{"gzip", 31}, Case{"x-gzip", 31}, Case{"deflate", 15}, Case{"deflate", -15}}) {
    auto encoded = compress(plain, c.window_bits);
    for (std::size_t step : {std::size_t{1}, std::size_t{5}, std::size_t{4096}}) {
      std::string error;
      auto d = ContentDecoder::make(c.encoding, error);
      ASSERT_NE(d, nullptr) << c.encoding;
      bool ok = false;
      EXPECT_EQ(decode(*d, encoded, step, ok), plain) << c.encoding << " " << c.window_bits;
      EXPECT_TRUE(ok);
      EXPECT_TRUE(d->finished());
    }
  }
}

TEST(ContentDecoder, CorruptAndTruncatedInputIsDetected) {
  std::string error;
  auto d = ContentDecoder::make("gzip", error);
  bool ok = true;
  decode(*d, "this is not gzip at all", 4096, ok);
  EXPECT_FALSE(ok);
  EXPECT_FALSE(d->error().empty());

  auto encoded = compress(std::string(10000, 'a'), 31);
  auto t = ContentDecoder::make("gzip", error);
  decode(*t, std::string_view(encoded).substr(0, encoded.size() / 2), 4096, ok);
  EXPECT_TRUE(ok);
  EXPECT_FALSE(t->finished());  // the caller reports a body that ended early
}

}  // namespace
}  // namespace llmgw::upstream
