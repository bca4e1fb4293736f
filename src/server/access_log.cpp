// The access log's buffers and writer thread (see access_log.hpp).
#include "llmgw/server/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace llmgw::server {

namespace {

std::atomic<std::uint64_t> next_log_id{1};

// The slot of the calling thread in the log it last wrote to.
thread_local void* tl_slot = nullptr;
thread_local std::uint64_t tl_log_id = 0;

}  // namespace

std::unique_ptr<AccessLog> AccessLog::open(const std::string& destination, std::string& error,
                                           Options options) {
  if (destination == "stdout") {
    return std::unique_ptr<AccessLog>(new AccessLog(STDOUT_FILENO, false, options));
  }
  if (destination == "stderr") {
    return std::unique_ptr<AccessLog>(new AccessLog(STDERR_FILENO, false, options));
  }
  const int fd = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open access log '" + destination + "': " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(fd, true, options));
}

AccessLog::AccessLog(int fd, bool owns_fd, Options options)
    : fd_(fd),
      owns_fd_(owns_fd),
      options_(options),
      id_(next_log_id.fetch_add(1, std::memory_order_relaxed)) {
  writer_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_one();
  writer_.join();
  write_batch();  // whatever came in while the writer was stopping
  if (owns_fd_) {
    ::close(fd_);
  }
}

AccessLog::Slot& AccessLog::own_slot() {
  if (tl_log_id == id_) {
    return *static_cast<Slot*>(tl_slot);
  }
  // First line of this thread (a worker, or the control thread): once per thread and log.
  std::lock_guard lock(slots_mutex_);
  auto& slot = slots_.emplace_back(std::make_unique<Slot>());
  slot->buffer.reserve(options_.wake_bytes + 4096);
  tl_slot = slot.get();
  tl_log_id = id_;
  return *slot;
}

void AccessLog::wake(bool urgent) {
  {
    std::lock_guard lock(wake_mutex_);
    pending_ = true;
    urgent_ = urgent_ || urgent;
  }
  wake_cv_.notify_one();
}

void AccessLog::run() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_cv_.wait(lock, [this] { return stopping_ || pending_; });
    // The batch's first line is in: give the batch the flush interval to fill, unless a buffer
    // is already full.
    wake_cv_.wait_for(lock, options_.flush_interval, [this] { return stopping_ || urgent_; });
    pending_ = false;
    urgent_ = false;
    lock.unlock();
    write_batch();
    lock.lock();
  }
}

void AccessLog::flush() { write_batch(); }

std::uint64_t AccessLog::lost() const {
  std::uint64_t n = 0;
  std::lock_guard lock(slots_mutex_);
  for (const auto& s : slots_) {
    n += s->lost.load(std::memory_order_relaxed);
  }
  return n;
}

void AccessLog::write_batch() {
  std::lock_guard writer(writer_mutex_);
  std::vector<Slot*> slots;
  {
    std::lock_guard lock(slots_mutex_);
    slots.reserve(slots_.size());
    for (auto& s : slots_) {
      slots.push_back(s.get());
    }
  }
  for (Slot* slot : slots) {
    {
      std::lock_guard lock(slot->mutex);
      if (slot->buffer.empty()) {
        continue;
      }
      slot->buffer.swap(batch_);  // the slot keeps going in the writer's emptied buffer
    }
    if (owns_fd_) {
      write_all(batch_);
    } else {
      // stdout/stderr are shared with the daemon log and are often pipes: whole lines of at
      // most PIPE_BUF bytes per write, which a pipe never interleaves with another writer's.
      std::string_view rest = batch_;
      while (!rest.empty()) {
        auto cut = rest.size() <= 4096 ? rest.size() : rest.rfind('\n', 4095) + 1;
        if (cut == 0) {
          cut = rest.find('\n') + 1;  // one line longer than that: alone
          cut = cut == 0 ? rest.size() : cut;
        }
        write_all(rest.substr(0, cut));
        rest.remove_prefix(cut);
      }
    }
    batch_.clear();
  }
  const auto lost_now = lost();
  if (lost_now > lost_reported_) {
    spdlog::warn("access log: {} lines lost since the last report: the destination does not "
                 "keep up",
                 lost_now - lost_reported_);
    lost_reported_ = lost_now;
  }
}

void AccessLog::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    // A full disk, a closed pipe: the batch is lost; say so, at most every 10 s.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_error_log_ >= std::chrono::seconds(10)) {
      last_error_log_ = now;
      spdlog::error("access log: write failed ({}); {} bytes of lines lost",
                    n < 0 ? std::strerror(errno) : "no progress", bytes.size());
    }
    return;
  }
}

namespace {

void append_digits(std::string& out, unsigned value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

}  // namespace

void append_rfc3339_ms(std::string& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  append_digits(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  append_digits(out, static_cast<unsigned>(hms.hours().count()), 2);
  out += ':';
  append_digits(out, static_cast<unsigned>(hms.minutes().count()), 2);
  out += ':';
  append_digits(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out += '.';
  append_digits(out, static_cast<unsigned>(hms.subseconds().count()), 3);
  out += 'Z';
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: copied when well formed, U+FFFD for each byte that is not.
    std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok && len >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      // No overlong forms, no surrogates, nothing past U+10FFFF.
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0) &&
           !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}

}  // namespace llmgw::server
