// The access log: lines formatted by each worker into its own buffer, written in batches by one
// writer thread; whole lines, none lost while the destination keeps up, counted when it cannot.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "llmgw/server/access_log.hpp"

namespace llmgw::server {
namespace {

using namespace std::chrono_literals;

std::filesystem::path temp_file(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("llmgw-access-log-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(AccessLog, LinesFromSeveralThreadsArriveWholeAndAllOfThem) {
  const auto path = temp_file("threads.log");
  std::string error;
  {
    AccessLog::Options options;
    options.wake_bytes = 512;  // several batches, some while the threads still write
    auto log = AccessLog::open(path.string(), error, options);
    ASSERT_TRUE(log) << error;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 2000; ++i) {
          log->write([&](std::string& out) {
            out += "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
          });
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    EXPECT_EQ(log->lost(), 0u);
  }  // the destructor writes what is left
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 6000u);
  std::vector<int> next(3, 0);
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line);  // whole lines only
    const int t = j["t"];
    EXPECT_EQ(j["i"], next[t]) << "a thread's lines stay in order";
    ++next[t];
  }
}

TEST(AccessLog, ALineIsWrittenWithinTheFlushIntervalWithoutAnyoneAsking) {
  const auto path = temp_file("interval.log");
  std::string error;
  AccessLog::Options options;
  options.flush_interval = 10ms;
  auto log = AccessLog::open(path.string(), error, options);
  ASSERT_TRUE(log) << error;
  log->write([](std::string& out) { out += "{\"one\":1}"; });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (lines_of(path).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the file with a deadline, not waiting for it
  }
  ASSERT_EQ(lines_of(path), std::vector<std::string>{"{\"one\":1}"});
}

TEST(AccessLog, AFullBufferLosesLinesAndCountsThem) {
  const auto path = temp_file("full.log");
  std::string error;
  AccessLog::Options options;
  options.flush_interval = 1h;  // the writer does not come by during the test
  options.wake_bytes = 1 << 20;
  options.max_buffer_bytes = 100;
  auto log = AccessLog::open(path.string(), error, options);
  ASSERT_TRUE(log) << error;
  for (int i = 0; i < 20; ++i) {
    log->write([](std::string& out) { out += std::string(20, 'x'); });
  }
  EXPECT_EQ(log->lost(), 15u);  // 5 lines of 21 bytes fill 100
  log->flush();
  EXPECT_EQ(lines_of(path).size(), 5u);
}

TEST(AccessLog, AnUnopenableFileIsAnError) {
  std::string error;
  EXPECT_FALSE(AccessLog::open("/nonexistent-dir/x/access.log", error));
  EXPECT_NE(error.find("/nonexistent-dir/x/access.log"), std::string::npos);
}

TEST(AppendJsonString, EscapesAndRepairsWhatJsonCannotCarry) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01 é €😀");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001 é €😀\"");
  for (std::string_view bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
    out.clear();
    append_json_string(out, bad);
    auto parsed = nlohmann::json::parse(out);  // valid JSON whatever came in
    EXPECT_NE(parsed.get<std::string>().find("\xef\xbf\xbd"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace llmgw::server
