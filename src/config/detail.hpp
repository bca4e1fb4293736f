#pragma once
// Internals shared by the config loader's translation units. Not part of the public API:
// nothing outside src/config includes this (and nothing outside src/config sees yaml-cpp).
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/config/config.hpp"

namespace llmgw::config::detail {

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

// One table per enum, used both to parse and to print, so the two cannot drift apart.
inline constexpr std::array<EnumName<ProviderKind>, 5> kProviderKinds{{
    {"openai", ProviderKind::openai},
    {"azure", ProviderKind::azure},
    {"anthropic", ProviderKind::anthropic},
    {"gemini", ProviderKind::gemini},
    {"openai_compatible", ProviderKind::openai_compatible},
}};
inline constexpr std::array<EnumName<Strategy>, 6> kStrategies{{
    {"priority", Strategy::priority},
    {"weighted", Strategy::weighted},
    {"round_robin", Strategy::round_robin},
    {"least_latency", Strategy::least_latency},
    {"least_cost", Strategy::least_cost},
    {"least_busy", Strategy::least_busy},
}};
inline constexpr std::array<EnumName<Jitter>, 3> kJitters{{
    {"full", Jitter::full},
    {"equal", Jitter::equal},
    {"none", Jitter::none},
}};
inline constexpr std::array<EnumName<ActiveHealthConfig::Kind>, 2> kActiveKinds{{
    {"tcp", ActiveHealthConfig::Kind::tcp},
    {"http", ActiveHealthConfig::Kind::http},
}};
inline constexpr std::array<EnumName<LiveSignalsConfig::Action>, 2> kSignalActions{{
    {"degrade", LiveSignalsConfig::Action::degrade},
    {"eject", LiveSignalsConfig::Action::eject},
}};
inline constexpr std::array<EnumName<OnBadAnswer>, 2> kOnBadAnswer{{
    {"serve", OnBadAnswer::serve},
    {"retry_elsewhere", OnBadAnswer::retry_elsewhere},
}};
inline constexpr std::array<EnumName<Overflow>, 4> kOverflows{{
    {"truncate_oldest", Overflow::truncate_oldest},
    {"summarize", Overflow::summarize},
    {"reject", Overflow::reject},
    {"fallback_larger", Overflow::fallback_larger},
}};
inline constexpr std::array<EnumName<SessionStoreKind>, 3> kSessionStores{{
    {"memory", SessionStoreKind::memory},
    {"sqlite", SessionStoreKind::sqlite},
    {"redis", SessionStoreKind::redis},
}};
inline constexpr std::array<EnumName<StateBackend>, 2> kStateBackends{{
    {"local", StateBackend::local},
    {"redis", StateBackend::redis},
}};

inline constexpr std::array<EnumName<OnUnavailable>, 2> kOnUnavailable{{
    {"allow", OnUnavailable::allow},
    {"deny", OnUnavailable::deny},
}};
inline constexpr std::array<EnumName<LogFormat>, 2> kLogFormats{{
    {"text", LogFormat::text},
    {"json", LogFormat::json},
}};
inline constexpr std::array<std::string_view, 5> kLogLevels{"trace", "debug", "info", "warn",
                                                            "error"};
inline constexpr std::array<std::string_view, 2> kResponseFormats{"text", "json_object"};

template <class E, std::size_t N>
std::string_view enum_name(const std::array<EnumName<E>, N>& table, E value) {
  for (const auto& entry : table) {
    if (entry.value == value) {
      return entry.name;
    }
  }
  return "unknown";
}

/// Shortest exact spelling: "2s", "5m", "1500ms", "24h" (parse_duration reads it back).
std::string format_duration(Duration d);
/// "8MiB", "512KiB", "1000B" (parse_size reads it back).
std::string format_size(std::uint64_t bytes);

/// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The closest candidate when it is plausibly a typo of `word`, else empty.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

/// Replaces the password (or a bare userinfo, which Redis treats as the password) of a URL
/// such as redis://user:secret@host:6379/0 with "<redacted>".
std::string redact_url_credentials(std::string_view url);

}  // namespace llmgw::config::detail
