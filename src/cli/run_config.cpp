#include "cli/run_config.hpp"

#include <charconv>

#include "trainer/error.hpp"
#include "trainer/log.hpp"

namespace trainer::cli {

Config load_run_config(const Globals& g) {
  const bool chosen = !g.config.empty();
  const std::string path = chosen ? g.config : default_config_path();
  Config c = load_config_file(path);
  if (!chosen) log::info("using config " + path + " (no --config given)");
  if (!g.ram.empty()) {
    c.memory.ram = parse_size(g.ram, "--ram");
    c.memory.ram_label = "--ram";
  }
  if (g.threads) c.training.threads = *g.threads;
  if (g.seed) c.training.seed = *g.seed;
  return c;
}

BatchSpec parse_batch_flag(const std::string& text, const std::string& flag, bool allow_full) {
  const std::string valid = allow_full ? "a positive integer, auto or full" : "a positive integer or auto";
  if (text == "auto") return {BatchSpec::Kind::automatic, 0};
  if (text == "full" && allow_full) return {BatchSpec::Kind::full, 0};
  long long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1) {
    throw Error::usage(flag, "'" + text + "' is not a batch size", valid);
  }
  return {BatchSpec::Kind::fixed, n};
}

}  // namespace trainer::cli
