#pragma once
// The gateway's failure vocabulary. Adapters and the upstream client classify what went wrong
// into one FailureClass; one table (failure_policy) alone decides what the router does with it.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace llmgw::api {

enum class FailureClass {
  connect,            // DNS, refused, reset before a response
  tls,                // handshake or certificate verification
  timeout,            // no first byte within first_byte / connect timeout
  stall,              // idle between chunks exceeded, or the stream broke mid-way
  server_error,       // 500, 502, 503, 504
  overloaded,         // 529
  conflict,           // 408, 409
  rate_limited,       // 429 with a transient reason
  quota_exhausted,    // 429 insufficient_quota: fail over, don't retry on that provider
  provider_auth,      // 401/403 of the gateway's own provider key
  context_length,     // 400 context_length_exceeded
  content_policy,     // 400 content filter
  client_error,       // other 4xx: the client's fault, passed through
  model_not_found,    // 404 model
  bad_response,       // a 2xx that is no answer: empty, not JSON, not the provider's shape, too
                      // deep, an undecodable encoding, a stream without its terminal event
  local_limit,        // our own bulkhead (max_connections) is full: not the target's fault
  cancelled,          // the gateway gave up on the attempt (client left, hedge lost, drain)
};

std::string_view to_string(FailureClass c);

/// Where else a request may go after this failure.
enum class FailOver {
  nowhere,         // the request ends here
  any,             // any other target may succeed
  larger_context,  // only a target with a larger context window (context.overflow:
                   // fallback_larger); otherwise the client gets the upstream's answer
};

/// What the failure does to the target's admission, beyond breaker and outlier counts.
enum class Cooldown {
  none,
  retry_after,   // the upstream's retry-after, when it sent one (capped at 5 minutes)
  quota,         // its retry-after, else 60 s: a spent quota does not come back sooner
  key_rejected,  // its retry-after, and the target is out for 60 s: our key was refused
};

/// What the gateway does with one failed attempt. The router and the health code read only
/// this; nothing else in the code branches on a FailureClass to decide.
struct FailurePolicy {
  bool retry_same_target;  // worth another try on the same target (if retry.on lists it)
  FailOver fail_over;      // another target may succeed
  bool harms_target;       // counts toward the breaker and outlier detection
  bool client_fault;       // the upstream's status and body go to the client as they are
  Cooldown cooldown;
  int ingress_status;  // the client's status when this failure ends the request; 0 = the
                       // upstream's own (client faults)
};

FailurePolicy failure_policy(FailureClass c);

/// One failed attempt.
struct Failure {
  FailureClass cls = FailureClass::connect;
  int status = 0;  // upstream HTTP status, 0 when none arrived
  std::optional<std::chrono::milliseconds> retry_after;
  std::string message;  // human readable, safe to show the client (no secrets)
  std::string body;     // upstream body, for client-fault pass-through
};

/// What an HTTP status alone says when the body names nothing more specific: 429 rate_limited,
/// 408/409 conflict, 529 overloaded, any other 5xx server_error, 401/403 provider_auth (the key
/// is the gateway's, not the client's), anything else client_error.
FailureClass status_failure_class(int status);

/// Classification of an OpenAI-shaped upstream error (status, headers, body).
Failure classify_openai_error(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after);

/// A delay an upstream asked for, in milliseconds (finite, >= 0), as a duration: capped at a day
/// so no upstream number can overflow the conversion (the cool-downs cap far lower anyway).
std::chrono::milliseconds upstream_delay(double millis);

/// Parses retry-after-ms (float ms) first, then retry-after (seconds); nullopt when absent or bad.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view retry_after_ms,
                                                           std::string_view retry_after);

}  // namespace llmgw::api
