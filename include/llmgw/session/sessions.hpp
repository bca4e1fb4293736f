#pragma once
// The process's session store, built from config.sessions and rebuilt by a reload only when
// the store's own settings change (a reload that touches models keeps every session). A
// request takes the current store once; an old store lives until its last request is done.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "llmgw/config/config.hpp"
#include "llmgw/session/store.hpp"

namespace llmgw::session {

class Sessions {
public:
  /// Control thread, at start and on reload. An error (the SQLite file cannot be opened, a
  /// bad Redis URL) keeps the previous store and says why.
  std::optional<std::string> configure(const config::SessionsConfig& cfg);
  std::shared_ptr<SessionStore> store() const;
  /// Drops the store while the workers' io_contexts still exist (a Redis store's connections
  /// belong to them); after the workers stopped, before they are destroyed.
  void shutdown();

private:
  mutable std::mutex mu_;
  std::shared_ptr<SessionStore> store_;
  std::string identity_;  // what the current store was built from
  // Stores a reload replaced, kept until their last request is done so that they are destroyed
  // here on the control thread (closing a SQLite file joins its thread), never on a worker.
  std::vector<std::shared_ptr<SessionStore>> retired_;
};

}  // namespace llmgw::session
