#include "llmgw/app/app.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <vector>

#include "llmgw/config/loader.hpp"
#include "llmgw/health/active_checker.hpp"
#include "llmgw/health/semantic_prober.hpp"
#include "llmgw/health/target_health.hpp"
#include "llmgw/metrics/metrics.hpp"
#include "llmgw/router/model_asker.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/server/access_log.hpp"
#include "llmgw/tracing/exporter.hpp"
#include "llmgw/server/server.hpp"

#ifndef LLMGW_VERSION
#define LLMGW_VERSION "0.0.0"
#endif

namespace llmgw::app {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kAbortGrace = std::chrono::seconds(2);

unsigned worker_count(const config::Config& cfg) {
  if (cfg.server.threads > 0) {
    return cfg.server.threads;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// One JSON object per line with the message properly escaped (a pattern cannot escape); ts in
// the access log's form.
class JsonLogFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"ts\":\"";
    server::append_rfc3339_ms(line, msg.time);
    line += "\",\"level\":";
    const auto level = spdlog::level::to_string_view(msg.level);
    server::append_json_string(line, std::string_view(level.data(), level.size()));
    line += ",\"msg\":";
    server::append_json_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

// Tests and scripts read the real ports from this line (listen on :0 picks free ports): the
// text line, or in JSON mode the same as a daemon log object with the ports as fields.
void announce_listening(const config::LoggingConfig& logging, unsigned short port,
                        unsigned short admin_port, unsigned threads) {
  if (logging.format != config::LogFormat::json) {
    spdlog::info("llmgw {} listening on port {} (admin port {}), {} worker thread(s)",
                 LLMGW_VERSION, port, admin_port, threads);
    std::cout << "llmgw listening on port " << port << " admin port " << admin_port
              << std::endl;
    return;
  }
  spdlog::default_logger()->flush();
  std::string line = "{\"ts\":\"";
  server::append_rfc3339_ms(line, std::chrono::system_clock::now());
  line += "\",\"level\":\"info\",\"msg\":";
  server::append_json_string(line, fmt::format("llmgw {} listening on port {} (admin port {}), "
                                               "{} worker thread(s)",
                                               LLMGW_VERSION, port, admin_port, threads));
  line += fmt::format(",\"event\":\"listening\",\"port\":{},\"admin_port\":{},"
                      "\"threads\":{}}}",
                      port, admin_port, threads);
  std::cout << line << std::endl;
}

void configure_daemon_log(const config::LoggingConfig& logging) {
  auto level = spdlog::level::from_str(logging.level);
  spdlog::set_level(level);
  if (logging.format == config::LogFormat::json) {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
}

void warn_about_probes(const config::Config& cfg);

// The exporter is built once, at start: a reload that changes it is told so.
bool tracing_changed(const std::optional<config::TracingConfig>& a,
                     const std::optional<config::TracingConfig>& b) {
  if (!a || !b) {
    return a.has_value() != b.has_value();
  }
  return a->otlp_endpoint != b->otlp_endpoint || a->sample_ratio != b->sample_ratio ||
         a->service_name != b->service_name || a->headers != b->headers ||
         a->max_queue_spans != b->max_queue_spans || a->max_batch_spans != b->max_batch_spans ||
         a->export_interval != b->export_interval || a->export_timeout != b->export_timeout;
}

// What the config makes the gateway do that its author probably did not mean; also printed by
// --check-config.
std::vector<std::string> config_warnings(const config::Config& cfg) {
  std::vector<std::string> out;
  if (cfg.models.empty()) {
    out.push_back(cfg.providers.empty()
                      ? "the config defines no providers and no models: every API request will "
                        "get 404 model_not_found"
                      : "the config defines no models: every API request will get 404 "
                        "model_not_found (models[] names what clients may ask for)");
  }
  return out;
}

void warn_about(const config::Config& cfg) {
  warn_about_probes(cfg);
  for (const auto& w : config_warnings(cfg)) {
    spdlog::warn("{}", w);
  }
  if (!cfg.auth.required) {
    spdlog::warn("AUTH IS OFF (auth.required: false): anyone who can reach the listener can use "
                 "every model. Use this only for local development.");
  }
  for (const auto& p : cfg.providers) {
    if (!p.tls_verify) {
      spdlog::warn("provider '{}': TLS certificate verification is OFF (tls_verify: false)", p.name);
    }
  }
}

void warn_about_probes(const config::Config& cfg) {
  for (const auto& probe : cfg.probes) {
    if (probe.expect.judge && probe.expect.judge->min_score > 0 &&
        probe.expect.judge->min_score <= 1) {
      spdlog::warn("probe '{}': judge.min_score {} is on the 0..10 scale the judge grades on "
                   "(a 0..1 value passes almost every answer)",
                   probe.name, probe.expect.judge->min_score);
    }
  }
}

class Daemon {
public:
  explicit Daemon(std::string path) : path_(std::move(path)), metrics_(LLMGW_VERSION), state_(metrics_) {}

  int run() {
    auto loaded = config::load_file(path_);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) {
        std::cerr << e.to_string() << "\n";
      }
      return 1;
    }
    const auto& cfg = *loaded.config;
    configure_daemon_log(cfg.logging);
    if (cfg.logging.access_log != "off") {
      std::string error;
      state_.access_log = server::AccessLog::open(cfg.logging.access_log, error);
      if (!state_.access_log) {
        spdlog::critical("{}", error);
        return 1;
      }
    }
    tracing_ = cfg.tracing;
    if (cfg.tracing) {
      state_.tracer = tracing::Exporter::make(*cfg.tracing, metrics_);
    }
    warn_about(cfg);
    if (auto error = state_.sessions.configure(cfg.sessions)) {
      spdlog::critical("sessions: {}", *error);
      return 1;
    }
    // One warning and one metric step per outage of the shared state (not one per request).
    state_.state_availability.set_sink([this](const state::AvailabilityEvent& e) {
      metrics_.state_availability(state::to_string(e.feature), e.available);
      if (e.available) {
        spdlog::info("state: {} reachable again for {}", e.where, state::to_string(e.feature));
      } else {
        spdlog::warn("state: {} unreachable for {} ({}); meanwhile {}", e.where,
                     state::to_string(e.feature), e.reason, e.policy);
      }
    });
    state_.limits.set_availability(&state_.state_availability);
    state_.cache.set_availability(&state_.state_availability);
    if (auto error = state_.limits.configure(cfg.state)) {
      spdlog::critical("{}", *error);
      return 1;
    }
    if (auto error = state_.cache.configure(cfg, &metrics_)) {
      spdlog::critical("cache: {}", *error);
      return 1;
    }
    threads_ = worker_count(cfg);
    // One daemon log line and one counter per health transition (not per request), so an
    // ejection or an opening circuit is visible without scraping /admin/upstreams.
    registry_.set_event_sink([this](const health::HealthEvent& e) {
      metrics_.health_event(e.provider, e.kind);
      spdlog::log(e.degraded ? spdlog::level::warn : spdlog::level::info,
                  "health: provider={} event={} reason=\"{}\"", e.provider, e.kind, e.reason);
    });
    models_.set_event_sink([this](const router::CanaryEvent& e) {
      if (e.rolled_back) {
        metrics_.canary_rollback(e.model);
        spdlog::warn("canary rolled back: model={} target={} reason=\"{}\" (resume with POST "
                     "/admin/canary/{}/resume)",
                     e.model, e.target, e.reason, e.model);
      } else {
        spdlog::info("canary resumed: model={} target={} ({})", e.model, e.target, e.reason);
      }
    });
    install(loaded.config);
    state_.reload = [this] { return reload("admin API"); };

    server::Server server(state_, control_, threads_);
    if (auto err = server.listen(cfg.server)) {
      spdlog::error("{}", *err);
      return 1;
    }
    server_ = &server;
    listen_ = cfg.server.listen;
    // Catch signals before announcing readiness: a SIGHUP or SIGTERM sent as soon as the line
    // below appears must reload or drain, not kill the process with the default action. Asio
    // queues a signal that arrives before the first async_wait.
    asio::signal_set signals(control_, SIGINT, SIGTERM, SIGHUP);
    announce_listening(cfg.logging, server.main_port(), server.admin_port(), threads_);
    server.start();
    asio::co_spawn(control_, handle_signals(signals), asio::detached);
    asio::co_spawn(control_, watch_config_file(), asio::detached);
    control_.run();
    // Shutting down: a second SIGINT or SIGTERM (an impatient operator, a supervisor) must not
    // turn a clean exit into death by signal once Asio gives the signals back.
    signals.clear();
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    checkers_.stop_all();
    probers_.stop_all();
    server.stop();
    state_.sessions.shutdown();
    state_.limits.shutdown();
    state_.cache.shutdown();
    // Let the closed acceptors' cancelled accepts finish before the workers' io_contexts
    // (which their sockets belong to) go away with `server`.
    control_.restart();
    control_.poll();
    spdlog::info("llmgw stopped");
    state_.access_log.reset();  // writes what is buffered, joins its writer
    return 0;
  }

private:
  void install(std::shared_ptr<const config::Config> cfg) {
    std::vector<std::string> problems;
    auto table = router::RouteTable::build(std::move(cfg), threads_,
                                           router::StateRegistries{&registry_, &models_}, &problems);
    for (const auto& p : problems) {
      spdlog::warn("{}", p);
    }
    // Health state and checkers of providers whose endpoint and health settings did not change
    // carry over; the rest start fresh.
    std::vector<std::string> identities;
    std::vector<health::CheckTarget> checks;
    for (const auto& [name, route] : table->providers()) {
      identities.push_back(route.identity);
      checks.push_back(health::CheckTarget{*route.config, route.adapter, route.health, route.identity});
    }
    registry_.retain(identities);
    std::vector<std::string> model_identities;
    for (const auto& m : table->config().models) {
      model_identities.push_back(router::ModelStateRegistry::identity(m));
    }
    models_.retain(model_identities);
    checkers_.sync(std::move(checks));
    probers_.sync(probe_targets(*table));
    state_.table.store(std::move(table));
  }

  // The providers with semantic probes, each with its probes resolved by name (the loader
  // checked that every name exists).
  static std::vector<health::ProbeTarget> probe_targets(const router::RouteTable& table) {
    std::vector<health::ProbeTarget> out;
    const auto& cfg = table.config();
    for (const auto& [name, route] : table.providers()) {
      const auto& semantic = route.config->health.semantic;
      if (!semantic) {
        continue;
      }
      health::ProbeTarget t{*route.config, {}, route.adapter, route.health, route.identity, {}};
      for (const auto& model : cfg.models) {
        for (const auto& target : model.targets) {
          if (target.provider == name && target.model == semantic->model) {
            t.price = target.price;
          }
        }
      }
      for (const auto& probe_name : semantic->probes) {
        for (const auto& probe : cfg.probes) {
          if (probe.name == probe_name) {
            t.probes.push_back(probe);
          }
        }
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  void on_probe_budget(const health::BudgetReport& r) {
    if (r.paused) {
      spdlog::warn("semantic probes of provider={} paused: ${:.4f} spent of max_usd_per_day ${:.4f}; "
                   "they resume when the day is over",
                   r.provider, r.spent_usd, r.max_usd);
    } else {
      spdlog::info("semantic probes of provider={} resumed: a new day's budget", r.provider);
    }
  }

  void on_probe(const health::ProbeReport& r) {
    metrics_.semantic_probe(r.provider, r.probe, health::to_string(r.result.verdict), r.cost_usd);
    if (r.result.verdict == health::ProbeVerdict::fail) {
      spdlog::info("semantic probe failed: provider={} probe={} rule={} latency_ms={} detail=\"{}\"",
                   r.provider, r.probe, r.result.check, r.latency.count(), r.result.detail);
    } else if (r.result.verdict == health::ProbeVerdict::unknown) {
      spdlog::debug("semantic probe got no answer: provider={} probe={} ({}: {})", r.provider,
                    r.probe, r.result.check, r.result.detail);
    }
  }

  std::pair<bool, std::string> reload(std::string_view trigger) {
    const auto began = std::chrono::steady_clock::now();
    auto loaded = config::load_file(path_);
    nlohmann::json result;
    if (!loaded.ok()) {
      metrics_.config_reload(false);
      result["result"] = "rejected";
      result["errors"] = nlohmann::json::array();
      for (const auto& e : loaded.errors) {
        result["errors"].push_back(e.to_string());
        spdlog::error("config reload ({}) rejected: {}", trigger, e.to_string());
      }
      spdlog::error("config reload ({}) rejected; the running config stays", trigger);
      return {false, result.dump()};
    }
    if (loaded.config->server.listen != listen_) {
      spdlog::warn("server.listen changed to {}: takes effect at restart", loaded.config->server.listen);
    }
    if (tracing_changed(tracing_, loaded.config->tracing)) {
      spdlog::warn("tracing changed: takes effect at restart");
    }
    configure_daemon_log(loaded.config->logging);
    warn_about(*loaded.config);
    if (auto error = state_.sessions.configure(loaded.config->sessions)) {
      spdlog::error("config reload ({}): the session store stays as it was: {}", trigger, *error);
    }
    if (auto error = state_.limits.configure(loaded.config->state)) {
      spdlog::error("config reload ({}): the shared state stays as it was: {}", trigger, *error);
    }
    if (auto error = state_.cache.configure(*loaded.config, &metrics_)) {
      spdlog::error("config reload ({}): the cache store stays as it was: {}", trigger, *error);
    }
    install(loaded.config);
    metrics_.config_reload(true);
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - began;
    spdlog::info("config reloaded ({}) in {:.1f} ms", trigger, took.count());
    result["result"] = "applied";
    return {true, result.dump()};
  }

  asio::awaitable<void> handle_signals(asio::signal_set& signals) {
    for (;;) {
      auto [ec, sig] = co_await signals.async_wait(use_tuple);
      if (ec) {
        co_return;
      }
      if (sig == SIGHUP) {
        reload("SIGHUP");
        continue;
      }
      co_await drain();
      co_return;
    }
  }

  // Stop accepting, let in-flight requests and streams finish up to drain_timeout, then stop.
  asio::awaitable<void> drain() {
    auto timeout = state_.table.load()->config().server.drain_timeout;
    spdlog::info("draining: {} request(s) in flight, up to {}ms", state_.inflight.load(),
                 timeout.count());
    state_.draining = true;
    server_->stop_accepting();
    auto until = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(control_);
    while (state_.busy.load() > 0 && std::chrono::steady_clock::now() < until) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
    }
    // Session turns are stored (and their locks released), and limits and budgets settled on
    // the shared state, just after the answers went out.
    while ((session::PendingWrite::count() > 0 || limits::Limits::pending() > 0) &&
           std::chrono::steady_clock::now() < until) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(use_tuple);
    }
    if (session::PendingWrite::count() > 0) {
      spdlog::warn("drain timeout: {} session write(s) not finished",
                   session::PendingWrite::count());
    }
    if (state_.busy.load() > 0) {
      // Never a silent truncation: each request still running gets server_shutting_down (an
      // SSE error event on a stream), written by its own worker; a short grace lets those
      // writes reach the clients before the workers stop.
      spdlog::warn("drain timeout: ending {} request(s) with server_shutting_down",
                   state_.busy.load());
      server_->abort_inflight();
      auto grace = std::chrono::steady_clock::now() + kAbortGrace;
      while (state_.busy.load() > 0 && std::chrono::steady_clock::now() < grace) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(use_tuple);
      }
    }
    control_.stop();
  }

  // Editors replace files (write to temp + rename), so watch the directory for the name.
  asio::awaitable<void> watch_config_file() {
    namespace fs = std::filesystem;
    auto abs = fs::absolute(path_);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      spdlog::warn("inotify unavailable; reload with SIGHUP or POST /admin/reload");
      co_return;
    }
    if (inotify_add_watch(fd, abs.parent_path().c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
      spdlog::warn("cannot watch {}; reload with SIGHUP or POST /admin/reload", abs.parent_path().string());
      ::close(fd);
      co_return;
    }
    asio::posix::stream_descriptor stream(control_, fd);
    std::array<char, 4096> buf{};
    asio::steady_timer debounce(control_);
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) {
        co_return;
      }
      bool ours = false;
      for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
        auto* ev = reinterpret_cast<inotify_event*>(buf.data() + off);
        // Our file, or Kubernetes' "..data" symlink: kubelet updates a mounted ConfigMap by
        // renaming a new "..data" over the old one, and the file's name never appears.
        if (ev->len > 0 && (abs.filename() == ev->name || std::string_view(ev->name) == "..data")) {
          ours = true;
        }
        off += sizeof(inotify_event) + ev->len;
      }
      if (!ours) {
        continue;
      }
      // Saves often come as several events (an editor's create, write and close; kubelet's
      // rename): reload once they settle, and drop what arrived meanwhile, which belongs to the
      // same save (it would otherwise be a second reload of the same file).
      debounce.expires_after(std::chrono::milliseconds(100));
      co_await debounce.async_wait(use_tuple);
      while (::read(stream.native_handle(), buf.data(), buf.size()) > 0) {
      }
      reload("file watch");
    }
  }

  std::string path_;
  metrics::Metrics metrics_;
  server::GatewayState state_;
  asio::io_context control_{1};
  health::HealthRegistry registry_;
  router::ModelStateRegistry models_;  // balancer cursors and retry budgets, kept across reloads
  health::ActiveCheckers checkers_{control_, nullptr};
  // Semantic probes: their own upstream client on the control thread (declared before the
  // probers, which use it until they are gone).
  upstream::Client probe_client_{control_.get_executor()};
  // Judge and embeddings calls of the probes, routed over the live table.
  router::RoutedModelAsker grader_{probe_client_, common::SteadyClock::instance(),
                                   [this] { return state_.table.load(); }};
  health::SemanticProbers probers_{
      control_, probe_client_,
      health::ProbeObserver{[this](const health::ProbeReport& r) { on_probe(r); },
                            [this](const health::BudgetReport& r) { on_probe_budget(r); }},
      health::ProberEnvironment{&common::SteadyClock::instance(),
                                &common::SteadySleeper::instance(), 0, &grader_}};
  server::Server* server_ = nullptr;
  std::string listen_;
  std::optional<config::TracingConfig> tracing_;  // as the exporter was built
  unsigned threads_ = 1;
};

}  // namespace

int run_daemon(const std::string& config_path) {
  try {
    Daemon daemon(config_path);
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}

int check_config(const std::string& config_path) {
  auto loaded = config::load_file(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::cerr << e.to_string() << "\n";
    }
    return 1;
  }
  for (const auto& w : config_warnings(*loaded.config)) {
    std::cerr << config_path << ": warning: " << w << "\n";
  }
  std::cout << config_path << ": OK (" << loaded.config->providers.size() << " providers, "
            << loaded.config->models.size() << " models, " << loaded.config->keys.size()
            << " keys)\n";
  return 0;
}

}  // namespace llmgw::app
