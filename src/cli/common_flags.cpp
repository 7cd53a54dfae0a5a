#include "cli/common_flags.hpp"

#include <CLI/CLI.hpp>

namespace trainer::cli {

CLI::Validator at_least(long long min, const std::string& what) {
  return CLI::Validator(
      [min, what](std::string& v) {
        long long n = 0;
        std::size_t used = 0;
        try {
          n = std::stoll(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == v.size() && !v.empty() && n >= min) return std::string();
        return "'" + v + "' is not " + what + ": an integer of at least " + std::to_string(min);
      },
      "INT>=" + std::to_string(min));
}

void add_common_flags(CLI::App& app, Globals& g, unsigned flags) {
  if (flags & kConfigFlag)
    app.add_option("--config", g.config, "Config file (default: ./trainer.json, else the built-in digits demo)");
  if (flags & kRamFlag)
    app.add_option("--ram", g.ram, "Memory budget: 12G, 512M, 1.5GiB, bytes, auto or none (binary units)")
        ->check([](const std::string& v) {  // `--ram "$UNSET"` must not silently mean auto
          return v.empty() ? std::string("an empty value is not a size: 12G, 512M, 1.5GiB, bytes, auto or none")
                           : std::string();
        });
  if (flags & kThreadsFlag)
    app.add_option("--threads", g.threads, "Compute threads (default: the config's, 0 there = all cores)")
        ->check(at_least(1, "a thread count"));
  if (flags & kSeedFlag)
    app.add_option("--seed", g.seed, "Random seed (shuffling, initialisation, dropout, augmentation, validation split)");
  if (flags & kOutputFlags) {
    app.add_flag("--json", g.json, "Print one JSON object on stdout instead of text");
    app.add_option("--log-format", g.log_format, "Log format on stderr")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("-q,--quiet", g.quiet, "Only warnings and errors on stderr");
  }
}

}  // namespace trainer::cli
