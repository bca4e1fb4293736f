#pragma once
// The access log: one JSON line per request, as nginx writes its own. The worker that served a
// request formats the line into that worker's own buffer; one writer thread takes the buffers
// in batches (within a flush interval of a batch's first line, or sooner when a buffer fills
// up; an idle gateway wakes no thread) and writes them. So a request
// costs a format and an uncontended lock, never a cross-thread wake-up or a disk write on an
// event loop. A destination that does not keep up loses lines (counted, and said in the daemon
// log), never requests.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace llmgw::server {

class AccessLog {
public:
  struct Options {
    std::chrono::milliseconds flush_interval{50};
    std::size_t wake_bytes = 64 * 1024;           // a buffer this full wakes the writer
    std::size_t max_buffer_bytes = 8 * 1024 * 1024;  // per worker; beyond it, lines are lost
  };

  /// Writes to "stdout", "stderr" or the file at `destination` (appended to, created if
  /// missing). Null with `error` set when the file cannot be opened.
  static std::unique_ptr<AccessLog> open(const std::string& destination, std::string& error,
                                         Options options);
  static std::unique_ptr<AccessLog> open(const std::string& destination, std::string& error) {
    return open(destination, error, Options{});
  }
  ~AccessLog();  // writes what is buffered, then stops the writer
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  /// Appends one line, formatted by `format(std::string& out)` straight into the calling
  /// thread's buffer (the newline is added here).
  template <class Format>
  void write(Format&& format) {
    Slot& slot = own_slot();
    std::lock_guard lock(slot.mutex);
    if (slot.buffer.size() >= options_.max_buffer_bytes) {
      slot.lost.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto before = slot.buffer.size();
    format(slot.buffer);
    slot.buffer += '\n';
    // Once per batch (the writer sleeps while nothing is buffered), and once more when the
    // buffer crosses wake_bytes: not on every line after that until the writer gets there.
    if (before == 0 || (before < options_.wake_bytes && slot.buffer.size() >= options_.wake_bytes)) {
      wake(before != 0);
    }
  }

  /// Writes every buffered line now and returns when they are written (drain, tests).
  void flush();
  /// Lines lost so far because a buffer was full.
  std::uint64_t lost() const;

private:
  struct alignas(64) Slot {
    std::mutex mutex;
    std::string buffer;
    std::atomic<std::uint64_t> lost{0};
  };

  AccessLog(int fd, bool owns_fd, Options options);
  Slot& own_slot();
  void wake(bool urgent);
  void run();
  void write_batch();
  void write_all(std::string_view bytes);

  const int fd_;
  const bool owns_fd_;
  const Options options_;
  const std::uint64_t id_;  // tells this log's thread slots from an earlier log's

  mutable std::mutex slots_mutex_;  // registration of a thread's slot, and the list the writer reads
  std::vector<std::unique_ptr<Slot>> slots_;

  std::mutex writer_mutex_;  // one batch at a time (writer thread, flush())
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool stopping_ = false;
  bool pending_ = false;  // a line waits: write it within the flush interval
  bool urgent_ = false;   // a buffer is full: write now
  std::uint64_t lost_reported_ = 0;
  std::chrono::steady_clock::time_point last_error_log_{};
  std::string batch_;  // the writer's own buffer, swapped with a slot's
  std::thread writer_;
};

/// Appends `s` as a JSON string (quoted, escaped; invalid UTF-8 becomes U+FFFD).
void append_json_string(std::string& out, std::string_view s);

/// Appends `t` as RFC 3339 in UTC with milliseconds, unquoted: 2026-12-06T17:40:01.123Z.
void append_rfc3339_ms(std::string& out, std::chrono::system_clock::time_point t);

}  // namespace llmgw::server
