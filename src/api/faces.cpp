// The proxied routes and the face that speaks on each.
#include "llmgw/api/face.hpp"

namespace llmgw::api {

namespace {

const Route* routes() {
  static const Route table[] = {{"/v1/chat/completions", Operation::chat, &openai_face()},
                                {"/v1/completions", Operation::completions, &openai_face()},
                                {"/v1/embeddings", Operation::embeddings, &openai_face()},
                                {"/v1/messages", Operation::chat, &anthropic_face()},
                                {{}, Operation::chat, nullptr}};
  return table;
}

}  // namespace

const Route* find_route(std::string_view path) {
  for (const Route* r = routes(); r->face; ++r) {
    if (r->path == path) {
      return r;
    }
  }
  return nullptr;
}

const Face& face_for_path(std::string_view path) {
  const Route* r = find_route(path);
  return r ? *r->face : openai_face();
}

}  // namespace llmgw::api
