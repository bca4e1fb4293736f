#include "llmgw/tokenizer/bpe.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace llmgw::tokenizer {
namespace {

constexpr Token kNoRank = std::numeric_limits<Token>::max();

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool base64_decode(std::string_view in, std::string& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') {
      break;
    }
    const int v = base64_value(c);
    if (v < 0) {
      return false;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

std::uint64_t hash_bytes(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return h ^ (h >> 29);
}

}  // namespace

struct BpeEncoding::Impl {
  // Every token's bytes in one arena; token t is arena[offsets[t] .. offsets[t+1]).
  std::string arena;
  std::vector<std::uint32_t> offsets{0};
  std::vector<Token> ranks;  // ranks[i]: the rank (id) of the i-th token stored
  // Open addressing: slot -> stored index + 1 (0 = empty); power-of-two size, linear probing.
  std::vector<std::uint32_t> slots;
  std::uint64_t mask = 0;
  pcre2_code* pattern = nullptr;
  std::size_t long_piece = 128;

  ~Impl() { pcre2_code_free(pattern); }

  std::string_view bytes_of(std::size_t i) const {
    return std::string_view(arena).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }

  void index() {
    std::size_t size = 1;
    while (size < ranks.size() * 2) {
      size <<= 1;
    }
    slots.assign(size, 0);
    mask = size - 1;
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      auto slot = hash_bytes(bytes_of(i)) & mask;
      while (slots[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      slots[slot] = static_cast<std::uint32_t>(i + 1);
    }
  }

  Token rank(std::string_view bytes) const {
    auto slot = hash_bytes(bytes) & mask;
    for (;;) {
      const auto entry = slots[slot];
      if (entry == 0) {
        return kNoRank;
      }
      if (bytes_of(entry - 1) == bytes) {
        return ranks[entry - 1];
      }
      slot = (slot + 1) & mask;
    }
  }

  // tiktoken's byte_pair_merge: `parts` holds (start, rank of the pair starting there); the
  // lowest-ranked pair is merged until none is a token.
  template <class Emit>
  void merge(std::string_view piece, Emit&& emit) const {
    thread_local std::vector<std::pair<std::size_t, Token>> parts;
    parts.clear();
    const std::size_t n = piece.size();
    for (std::size_t i = 0; i + 1 < n; ++i) {
      parts.emplace_back(i, rank(piece.substr(i, 2)));
    }
    parts.emplace_back(n - 1, kNoRank);
    parts.emplace_back(n, kNoRank);
    auto rank_at = [&](std::size_t i) {
      if (i + 3 < parts.size()) {
        return rank(piece.substr(parts[i].first, parts[i + 3].first - parts[i].first));
      }
      return kNoRank;
    };
    for (;;) {
      Token best = kNoRank;
      std::size_t at = 0;
      for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        if (parts[i].second < best) {
          best = parts[i].second;
          at = i;
        }
      }
      if (best == kNoRank) {
        break;
      }
      parts[at].second = rank_at(at);
      if (at > 0) {
        parts[at - 1].second = rank_at(at - 1);
      }
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      emit(rank(piece.substr(parts[i].first, parts[i + 1].first - parts[i].first)));
    }
  }

  // The same merges in O(n log n), for long pieces (a run of 100,000 equal characters is one
  // piece: the quadratic loop above would take minutes). Pairs wait in a heap ordered by
  // (rank, position), as the loop picks them; an entry whose left part has changed since it
  // was pushed (its version moved on) is stale and skipped.
  template <class Emit>
  void merge_long(std::string_view piece, Emit&& emit) const {
    const std::size_t n = piece.size();
    struct Node {
      std::size_t start;
      std::size_t prev;
      std::size_t next;
      std::uint32_t version;
      bool alive;
    };
    struct Pair {
      Token rank;
      std::size_t start;
      std::size_t node;
      std::uint32_t version;
      bool operator>(const Pair& o) const {
        return rank != o.rank ? rank > o.rank : start > o.start;
      }
    };
    thread_local std::vector<Node> nodes;
    thread_local std::vector<Pair> heap;
    nodes.clear();
    heap.clear();
    for (std::size_t i = 0; i <= n; ++i) {
      nodes.push_back(Node{i, i == 0 ? n : i - 1, i + 1, 0, true});  // node n: the end
    }
    auto pair_rank = [&](std::size_t i) {
      const auto j = nodes[i].next;
      if (j >= n) {
        return kNoRank;
      }
      const auto end = nodes[nodes[j].next].start;
      return rank(piece.substr(nodes[i].start, end - nodes[i].start));
    };
    auto push = [&](std::size_t i) {
      const auto r = pair_rank(i);
      if (r != kNoRank) {
        heap.push_back(Pair{r, nodes[i].start, i, nodes[i].version});
        std::push_heap(heap.begin(), heap.end(), std::greater<>{});
      }
    };
    for (std::size_t i = 0; i + 1 < n; ++i) {
      push(i);
    }
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
      const Pair top = heap.back();
      heap.pop_back();
      auto& a = nodes[top.node];
      if (!a.alive || a.version != top.version) {
        continue;
      }
      const auto b = a.next;  // merged into a
      nodes[b].alive = false;
      a.next = nodes[b].next;
      nodes[a.next].prev = top.node;
      ++a.version;
      push(top.node);
      if (top.node != 0) {
        const auto p = a.prev;
        ++nodes[p].version;
        push(p);
      }
    }
    for (std::size_t i = 0; i < n; i = nodes[i].next) {
      emit(rank(piece.substr(nodes[i].start, nodes[nodes[i].next].start - nodes[i].start)));
    }
  }

  template <class Emit>
  void piece(std::string_view p, Emit&& emit) const {
    if (p.empty()) {
      return;
    }
    if (const auto whole = rank(p); whole != kNoRank) {
      emit(whole);
      return;
    }
    if (p.size() > long_piece) {
      merge_long(p, emit);
    } else {
      merge(p, emit);
    }
  }

  template <class Emit>
  void encode(std::string_view text, Emit&& emit) const {
    if (text.empty()) {
      return;
    }
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(pattern, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t at = 0;
    while (at < text.size()) {
      const int rc = pcre2_match(pattern, subject, text.size(), at, 0, md, nullptr);
      if (rc < 0) {
        piece(text.substr(at), emit);  // nothing matches the rest (invalid UTF-8): bytes
        break;
      }
      const auto* ov = pcre2_get_ovector_pointer(md);
      std::size_t begin = ov[0];
      std::size_t end = ov[1];
      if (begin > at) {
        piece(text.substr(at, begin - at), emit);
      }
      if (end == begin) {
        end = begin + 1;  // never loop on an empty match
      }
      piece(text.substr(begin, end - begin), emit);
      at = end;
    }
    pcre2_match_data_free(md);
  }
};

BpeEncoding::BpeEncoding(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpeEncoding::~BpeEncoding() = default;

std::shared_ptr<const BpeEncoding> BpeEncoding::load(const std::string& path,
                                                     Options options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(path + ": cannot read the tokenizer file");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto j = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (!j.is_object() || !j.contains("pat_str") || !j.contains("bpe_ranks") ||
      !j["pat_str"].is_string() || !j["bpe_ranks"].is_string()) {
    throw std::runtime_error(path + ": not a tokenizer file (pat_str and bpe_ranks expected)");
  }
  auto impl = std::make_unique<Impl>();
  impl->long_piece = options.long_piece;
  // "! <first rank> <base64 token> <base64 token> ...", ranks counting up from the first.
  const auto& ranks = j["bpe_ranks"].get_ref<const std::string&>();
  std::istringstream fields(ranks);
  std::string field;
  Token next = 0;
  if (!(fields >> field) || field != "!" || !(fields >> next)) {
    throw std::runtime_error(path + ": bpe_ranks does not start with '! <first rank>'");
  }
  impl->ranks.reserve(ranks.size() / 6);
  while (fields >> field) {
    if (!base64_decode(field, impl->arena)) {
      throw std::runtime_error(path + ": bad base64 token at rank " + std::to_string(next));
    }
    impl->offsets.push_back(static_cast<std::uint32_t>(impl->arena.size()));
    impl->ranks.push_back(next++);
  }
  impl->index();
  int error = 0;
  PCRE2_SIZE error_at = 0;
  const auto& pat = j["pat_str"].get_ref<const std::string&>();
  impl->pattern = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                &error_at, nullptr);
  if (!impl->pattern) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::runtime_error(path + ": pat_str does not compile at offset " +
                             std::to_string(error_at) + ": " +
                             reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(impl->pattern, PCRE2_JIT_COMPLETE);  // slower without JIT, still right
  return std::shared_ptr<const BpeEncoding>(new BpeEncoding(std::move(impl)));
}

std::vector<Token> BpeEncoding::encode(std::string_view text) const {
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 1);
  impl_->encode(text, [&out](Token t) { out.push_back(t); });
  return out;
}

std::size_t BpeEncoding::count(std::string_view text) const {
  std::size_t n = 0;
  impl_->encode(text, [&n](Token) { ++n; });
  return n;
}

std::size_t BpeEncoding::vocabulary_size() const { return impl_->ranks.size(); }

}  // namespace llmgw::tokenizer
