#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/distributed.hpp"
#include "trainer/error.hpp"
#include "trainer/log.hpp"

namespace trainer::cli {
namespace {

constexpr const char* kFooter = R"(Examples:
  trainer fit                                   train the built-in digits demo
  trainer fit --config run.json --epochs 5      train, overriding the config's epochs
  trainer probe-batch --config run.json --ram 12G   what batch fits in 12 GiB, and why
  trainer evaluate --config run.json --weights run.ckpt
  trainer predict --weights run.ckpt --input x.npy --output p.npy
  trainer inspect data/digits/train_x.npy --json
  trainer validate --config run.json
  trainer import digits.csv.gz --out data/digits
  trainer export --weights run.ckpt --format onnx --output model.onnx

Sizes (--ram) use binary units: 1G = 1GB = 1GiB = 1024^3 bytes.
Exit codes: 0 ok, 1 runtime failure, 2 usage/config error, 3 data error,
4 memory budget cannot be met, 5 training diverged, 130 interrupted.)";

void report(const Error& e, const Globals& g) {
  if (g.json) {
    nlohmann::json out = {{"error", {{"message", e.what()}, {"where", e.where()}, {"fault", e.fault()},
                                     {"valid", e.valid()}, {"exit_code", e.exit_code()}}}};
    std::cout << out.dump() << std::endl;
  }
  if (log::format() == log::Format::json) {
    log::error(e.what(), {{"event", "error"}, {"exit_code", e.exit_code()}, {"where", e.where()}});
  } else {
    const Communicator& comm = Communicator::world();
    std::cerr << "trainer: " << (comm.distributed() ? "rank " + std::to_string(comm.rank()) + ": " : "")
              << (e.code() == ExitCode::interrupted ? "" : "error: ") << e.what() << "\n";
  }
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"trainer: trains neural networks (MLPs) on .npy data inside a RAM budget"};
  app.set_version_flag("--version", std::string("trainer ") + TRAINER_VERSION);
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // common flags may follow the subcommand

  Globals g;
  add_common_flags(app, g, kAllCommonFlags);

  Action action;
  add_fit(app, g, action);
  add_probe_batch(app, g, action);
  add_evaluate(app, g, action);
  add_predict(app, g, action);
  add_inspect(app, g, action);
  add_validate(app, g, action);
  add_import(app, g, action);
  add_report(app, g, action);
  add_export(app, g, action);

  // CLI11 would only say "a subcommand is required"; name the unknown command and the valid ones.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      report(Error::usage(argv[1], "unknown command", "one of: " + names), g);
      return static_cast<int>(ExitCode::usage);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }
  // Under mpirun, rank 0 speaks for the job; the others only report their own failures.
  const Communicator& comm = Communicator::world();
  log::configure(g.log_format == "json" ? log::Format::json : log::Format::text, g.quiet || comm.rank() != 0);
  if (comm.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) return static_cast<int>(ExitCode::runtime);
  if (!action) return static_cast<int>(ExitCode::usage);
  try {
    if (comm.distributed() && !app.got_subcommand("fit") && !app.got_subcommand("probe-batch"))
      throw Error::usage("mpirun", "only fit and probe-batch run over several processes",
                         "this command without mpirun (or with -np 1)");
    return action();
  } catch (const Error& e) {
    report(e, g);
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    report(Error::budget("", "out of memory", "a larger --ram budget or a smaller batch"), g);
    return static_cast<int>(ExitCode::budget);
  } catch (const std::exception& e) {
    report(Error::runtime("", std::string("internal error: ") + e.what()), g);
    return static_cast<int>(ExitCode::runtime);
  }
}

}  // namespace trainer::cli
