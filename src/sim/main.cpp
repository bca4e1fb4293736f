// llmgw-sim: a provider simulator speaking the OpenAI, Anthropic and Gemini wire formats, with
// fault injection.
// Used by the gateway's integration tests, the demo config and the benchmark (as upstream).
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "server.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: llmgw-sim --listen HOST:PORT [--name NAME] [--threads N] [--api-key KEY]\n"
    "                 [--models m1,m2] [--tls-cert FILE --tls-key FILE]\n"
    "                 [--control-listen HOST:PORT] [--fault JSON]\n"
    "\n"
    "Serves the OpenAI API under /v1, the Anthropic Messages API at /v1/messages, the Gemini\n"
    "API under /v1beta, and a control API under /_sim/ (fault, stats, reset).\n"
    "Port 0 picks a free port; one line per listener is printed once it is bound.\n"
    "\n"
    "Answers: \"[NAME] <last user message>\"; \"What is A + B?\" (also -, *): the result;\n"
    "JSON mode: {\"ok\":true,\"answer\":...}. Judge persona: a system prompt starting \"You grade\n"
    "an answer against a rubric.\" and a last user message \"Question:\\n<q>\\n\\nAnswer:\\n<a>\"\n"
    "get {\"score\":N,\"reason\":...} (also in JSON mode): arithmetic in <q> scores 10 when <a>\n"
    "states the result, else 0; otherwise 0 for an empty, lorem ipsum, refusing or looping <a>,\n"
    "else 8. Embeddings: bag-of-words vectors (shared words, high cosine), 256 dimensions\n"
    "by default.\n"
    "\n"
    "Faults (--fault JSON or POST /_sim/fault), {\"mode\": M, ...}; every mode takes \"count\"\n"
    "(next N requests only) and \"paths\" (path prefixes it applies to):\n"
    "  none             healthy\n"
    "  error            answer \"status\" (503) with the face's error body; \"error_type\",\n"
    "                   \"error_code\", \"message\", \"retry_after\", \"retry_after_ms\" shape it\n"
    "  hang             never answer\n"
    "  slow_first_byte  wait \"delay_ms\" (1000) before answering\n"
    "  slow_chunks      streams: \"chunk_delay_ms\" (200) between events; else wait \"delay_ms\"\n"
    "  die_after        streams: \"after_chunks\" (2) content events, then close without the\n"
    "                   last chunk; else close without answering\n"
    "  garbage          a well-formed but wrong answer (arithmetic off by one)\n"
    "  empty_answer     a well-formed answer with empty content\n"
    "  repetition       a well-formed answer that loops one phrase\n"
    "  refusal          a well-formed refusal (\"I'm sorry, but I can't help with that.\")\n"
    "  bad_json         well-formed, but its content is not JSON (cut short)\n"
    "  reset            reset the connection (RST) without answering\n"
    "  refuse           close the listening socket for \"delay_ms\" (or until changed)\n"
    "  flap             alternate error / healthy every \"period_ms\" (1000)\n"
    "Hostile 200 answers:\n"
    "  gzip             Content-Encoding: gzip (streams: flushed per event)\n"
    "  empty            no body (streams: no events)\n"
    "  wrong_shape      {\"unexpected\":true} (streams: such events, then the normal end)\n"
    "  truncated        streams: \"after_chunks\" (2) content events, then a clean end without\n"
    "                   the terminal event; else half of the JSON body\n"
    "  deep             a member nested \"depth\" (100000) levels deep in the answer (streams:\n"
    "                   in the first content event)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "llmgw-sim: " << message << "\n" << kUsage;
  std::exit(2);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    if (!item.empty()) {
      items.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return items;
}

llmgw::sim::Options parse_args(int argc, char** argv) {
  llmgw::sim::Options options;
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string value;
    // Accept both "--flag value" and "--flag=value".
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) {
        usage_error("missing value for " + std::string(arg));
      }
      value = argv[++i];
    }
    if (arg == "--listen") {
      options.listen = value;
      have_listen = true;
    } else if (arg == "--name") {
      options.name = value;
    } else if (arg == "--threads") {
      try {
        options.threads = std::stoi(value);
      } catch (const std::exception&) {
        usage_error("--threads expects a number");
      }
      if (options.threads < 1 || options.threads > 256) {
        usage_error("--threads must be between 1 and 256");
      }
    } else if (arg == "--api-key") {
      options.api_key = value;
    } else if (arg == "--models") {
      options.models = split_list(value);
    } else if (arg == "--tls-cert") {
      options.tls_cert = value;
    } else if (arg == "--tls-key") {
      options.tls_key = value;
    } else if (arg == "--control-listen") {
      options.control_listen = value;
    } else if (arg == "--fault") {
      auto json = llmgw::sim::parse_untrusted(value);
      if (!json) {
        usage_error("--fault " + json.error().message);
      }
      std::string error;
      options.fault = llmgw::sim::FaultSpec::parse(*json, error);
      if (!options.fault) {
        usage_error("--fault: " + error);
      }
    } else {
      usage_error("unknown option " + std::string(arg));
    }
  }
  if (!have_listen) {
    usage_error("--listen is required");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    usage_error("--tls-cert and --tls-key go together");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_args(argc, argv);
  try {
    return llmgw::sim::run(options);
  } catch (const std::exception& e) {
    std::cerr << "llmgw-sim: " << e.what() << "\n";
    return 1;
  }
}
