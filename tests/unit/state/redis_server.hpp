#pragma once
// A real redis-server for the tests that need one (state, session): started on a free loopback
// port with no persistence, ready once it answers PING, killed with the test. Tests skip when
// there is no redis-server on PATH.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace llmgw::testing {

class RedisServer {
public:
  /// The redis-server binary on PATH, or "" when there is none.
  static std::string binary() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
      auto end = dirs.find(':', start);
      auto dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
      auto candidate = (dir.empty() ? std::string(".") : dir) + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
      if (end == std::string::npos) {
        break;
      }
      start = end + 1;
    }
    return "";
  }

  /// A port nothing listens on right now.
  static std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  explicit RedisServer(std::vector<std::string> extra = {}, std::uint16_t port = 0)
      : port_(port ? port : free_port()), extra_(std::move(extra)), pick_port_(port == 0) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  /// Starts it (again, on the same port) and waits until it answers; false when it did not.
  bool start() {
    // A port picked here may be taken by a parallel test in the meantime: pick another.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (start_once()) {
        pick_port_ = false;  // a restart comes back on the same port
        return true;
      }
      if (!pick_port_) {
        return false;
      }
      port_ = free_port();
    }
    return false;
  }

  /// SIGKILL: the connections break as they would when Redis crashes.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  std::uint16_t port() const { return port_; }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }

private:
  bool start_once() {
    stop();
    auto bin = binary();
    if (bin.empty()) {
      return false;
    }
    std::vector<std::string> argv_s = {bin,          "--port",       std::to_string(port_),
                                       "--bind",     "127.0.0.1",    "--save",
                                       "",           "--appendonly", "no",
                                       "--logfile",  "",             "--daemonize",
                                       "no",         "--dir",        "/tmp"};
    argv_s.insert(argv_s.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
      int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid < 0) {
      return false;
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (answers_ping()) {
        // Another test's server may hold the port while ours fails to bind: still running
        // a moment later means it is ours (a failed bind exits within milliseconds).
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (::waitpid(pid_, &status, WNOHANG) == 0) {
          return true;
        }
      }
      if (::waitpid(pid_, &status, WNOHANG) != 0) {
        pid_ = -1;  // it exited (bad argument, port taken)
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return false;
  }

  bool answers_ping() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      timeval tv{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const char ping[] = "PING\r\n";
      char buf[64] = {};
      if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) > 0) {
        auto n = ::recv(fd, buf, sizeof buf - 1, 0);
        // "+PONG", or "-NOAUTH" from a server with a password: either way it serves.
        ok = n > 0 && (buf[0] == '+' || buf[0] == '-');
      }
    }
    ::close(fd);
    return ok;
  }

  std::uint16_t port_;
  std::vector<std::string> extra_;
  bool pick_port_;
  pid_t pid_ = -1;
};

}  // namespace llmgw::testing
