// The proxied routes and the face that speaks on each.
#include "llmgw/api/face.hpp"

namespace llmgw::api {

namespace {

const Route* routes() {
  static const Route table[] = {{"/v1/chat/completions", Operation::chat, &openai_face()},
                                {"/v1/completions", Operation::completions, &openai_face()},
                                {"/v1/embeddings", Operation::embeddings, &openai_face()},
                                {"/v1/messages", Operation::chat, &anthropic_face()},
                                {"/v1/responses", Operation::chat, &responses_face()},
                                // A managed prompt: its template builds a chat body.
                                {"/v1/prompts/{name}", Operation::chat, &openai_face()},
                                {{}, Operation::chat, nullptr}};
  return table;
}

// A route ending in "/{name}" takes one non-empty path segment there.
bool matches(std::string_view pattern, std::string_view path) {
  constexpr std::string_view kName = "{name}";
  if (!pattern.ends_with(kName)) {
    return pattern == path;
  }
  auto base = pattern.substr(0, pattern.size() - kName.size());
  return path.size() > base.size() && path.starts_with(base) &&
         path.find('/', base.size()) == std::string_view::npos;
}

}  // namespace

const Route* find_route(std::string_view path) {
  for (const Route* r = routes(); r->face; ++r) {
    if (matches(r->path, path)) {
      return r;
    }
  }
  return nullptr;
}

const Face& face_for_path(std::string_view path) {
  if (const Route* r = find_route(path)) {
    return *r->face;
  }
  // Anthropic SDKs read errors in their own shape on every path they call (count_tokens, a
  // path this gateway does not serve).
  return path.starts_with("/v1/messages/") ? anthropic_face() : openai_face();
}

}  // namespace llmgw::api
