// Conversation sessions (config: sessions; header x-session-id). The seam: it applies to a
// request that names a session; the sessions issue fills in loading the stored history
// (memory, SQLite or Redis) and, in the tap, appending the new turns.
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

class SessionLoadStage final : public IngressStage {
public:
  std::string_view name() const override { return "session_load"; }
  bool applies(const RequestContext& ctx) const override { return !ctx.session_id.empty(); }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext&) override {
    co_return std::nullopt;
  }
};

class SessionAppendTap final : public ResponseTap {
public:
  std::string_view name() const override { return "session_append"; }
  void on_response(const RequestContext&) override {}
};

}  // namespace

std::unique_ptr<IngressStage> make_session_load_stage() {
  return std::make_unique<SessionLoadStage>();
}
std::unique_ptr<ResponseTap> make_session_append_tap() {
  return std::make_unique<SessionAppendTap>();
}

}  // namespace llmgw::pipeline
