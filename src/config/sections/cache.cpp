// The config schema, the top-level `cache`: the store every model's response cache shares
// (models[].cache says which models cache and for how long; models.cpp reads it).
#include "config/schema_loader.hpp"

namespace llmgw::config::schema {

void SchemaLoader::cache_store(const Value& v, CacheStoreConfig& c) {
  MapReader m(r_, v, {"max_bytes", "max_entries", "max_entry_bytes", "max_stale"});
  m.read_size("max_bytes", c.max_bytes, 1024, kNoMax);
  m.read("max_entries", c.max_entries, 1, kNoMax);
  m.read_size("max_entry_bytes", c.max_entry_bytes, 256, kNoMax);
  m.read("max_stale", c.max_stale, Duration::zero());
}

}  // namespace llmgw::config::schema
