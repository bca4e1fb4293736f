// The response cache (config: models[].cache). The seam: it applies to a model with a cache;
// the caching issue fills in the lookup (which may answer the request itself) and, in the tap,
// the store.
#include "llmgw/pipeline/pipeline.hpp"

namespace llmgw::pipeline {
namespace {

class CacheLookupStage final : public IngressStage {
public:
  std::string_view name() const override { return "cache_lookup"; }
  bool applies(const RequestContext& ctx) const override {
    return ctx.model && ctx.model->cache.has_value();
  }
  boost::asio::awaitable<std::optional<api::GatewayError>> run(RequestContext&) override {
    co_return std::nullopt;
  }
};

class CacheStoreTap final : public ResponseTap {
public:
  std::string_view name() const override { return "cache_store"; }
  void on_response(const RequestContext&) override {}
};

}  // namespace

std::unique_ptr<IngressStage> make_cache_lookup_stage() {
  return std::make_unique<CacheLookupStage>();
}
std::unique_ptr<ResponseTap> make_cache_store_tap() { return std::make_unique<CacheStoreTap>(); }

}  // namespace llmgw::pipeline
