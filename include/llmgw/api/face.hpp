#pragma once
// Ingress faces: the client APIs the gateway speaks (api/openai: Chat Completions, Completions,
// Embeddings; api/anthropic: Messages). A face owns its wire format at the edge: it validates
// and decodes a client body into the canonical request, renders the gateway's errors, and wraps
// the connection's ByteSink in a ResponseSink that answers in its format. The HTTP server picks
// a face by route and knows no wire format; the router knows only the canonical model.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmgw/api/errors.hpp"
#include "llmgw/api/operation.hpp"
#include "llmgw/api/response_sink.hpp"
#include "llmgw/common/header.hpp"

namespace llmgw::api {

/// What a face keeps from a request for its answer and for the stages after it: the Responses
/// API echoes request fields in its answer and continues stored conversations.
class FaceState {
public:
  virtual ~FaceState() = default;
};

/// The fields of a valid body the front end acts on, read once with their types known.
struct RequestFacts {
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  bool base64_embeddings = false;       // encoding_format: base64
  std::uint64_t max_output_tokens = 0;  // max_completion_tokens, else max_tokens; 0 = unset
  std::shared_ptr<FaceState> face_state;  // set by a face that keeps something (responses)
};

class Face {
public:
  virtual ~Face() = default;
  virtual std::string_view name() const = 0;

  /// Validates the client's parsed body for `op` and leaves the canonical request in it. The
  /// error to answer instead names the JSON path at fault in the client's own terms.
  virtual std::optional<GatewayError> decode(Operation op, nlohmann::json& body,
                                             RequestFacts& facts) const = 0;

  /// A complete error answer's body in this face's format.
  virtual std::string error_body(const GatewayError& e, std::string_view request_id) const = 0;
  /// The event that ends a stream of this face with `e`.
  virtual std::string stream_error_event(const GatewayError& e) const = 0;
  /// Adds the request-id headers this face's SDKs read (x-request-id is the server's own).
  virtual void add_id_headers(std::vector<common::Header>& headers,
                              std::string_view request_id) const {
    (void)headers;
    (void)request_id;
  }
  /// Whether the face needs the usage chunk of a stream even when the client did not ask.
  virtual bool needs_stream_usage() const { return false; }

  /// The sink the router answers through, over the connection's `raw` sink.
  virtual std::unique_ptr<ResponseSink> open(ByteSink& raw) const = 0;
};

const Face& openai_face();
const Face& anthropic_face();
const Face& responses_face();

/// A proxied route: POST path → operation, face.
struct Route {
  // The path, or a pattern whose last segment is "{name}" (one non-empty segment): the
  // pattern is also the route's metrics label, so a client cannot mint label values.
  std::string_view path;
  Operation op;
  const Face* face;
};

/// The proxied route for `path`, or null.
const Route* find_route(std::string_view path);
/// The face whose error shape answers on `path`: the Anthropic shape under /v1/messages (its
/// unknown sub-paths included), else OpenAI's.
const Face& face_for_path(std::string_view path);

}  // namespace llmgw::api
