// `trainer inspect FILE.npy [--json]`: the header facts of a .npy file and streamed statistics.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/npy.hpp"

namespace trainer::cli {
namespace {

struct InspectOptions {
  std::string file;
};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

int run_inspect(const InspectOptions& options, bool json) {
  const NpyArray array = NpyArray::open(options.file);
  const NpyHeader& h = array.header();
  const NpyStats stats = compute_stats(array);
  const bool any = h.count > stats.nan_count;  // min/max/mean exist only over non-NaN values
  if (json) {
    nlohmann::json out = {{"version", h.version_str()},     {"dtype", h.dtype_str()},
                          {"shape", h.shape},               {"fortran_order", h.fortran_order},
                          {"header_len", h.header_len},     {"data_offset", h.data_offset},
                          {"file_size", array.file_size()}, {"nan_count", stats.nan_count}};
    out["min"] = any ? nlohmann::json(stats.min) : nlohmann::json();
    out["max"] = any ? nlohmann::json(stats.max) : nlohmann::json();
    out["mean"] = any ? nlohmann::json(stats.mean) : nlohmann::json();
    std::cout << out.dump() << '\n';
    return 0;
  }
  auto number = [&](double v) { return any ? fmt::format("{:.17g}", v) : std::string("n/a"); };
  std::cout << fmt::format(
      "file         {}\nversion      {}\ndtype        {}\nshape        {}\norder        {}\n"
      "header_len   {}\ndata_offset  {}\nfile_size    {}\nmin          {}\nmax          {}\n"
      "mean         {}\nnan_count    {}\n",
      options.file, h.version_str(), h.dtype_str(), shape_text(h.shape), h.fortran_order ? "F (column-major)" : "C",
      h.header_len, h.data_offset, array.file_size(), number(stats.min), number(stats.max), number(stats.mean),
      stats.nan_count);
  return 0;
}

}  // namespace

void add_inspect(CLI::App& app, Globals& globals, Action& action) {
  auto options = std::make_shared<InspectOptions>();  // outlives parsing: the action holds it
  auto* sub = app.add_subcommand("inspect", "Header facts and streamed min/max/mean of a .npy file");
  add_common_flags(*sub, globals, kOutputFlags);
  sub->add_option("file", options->file, "the .npy file")->required();
  sub->footer("Example: trainer inspect data/digits/train_x.npy --json");
  sub->callback([options, &globals, &action] {
    action = [options, &globals] { return run_inspect(*options, globals.json); };
  });
}

}  // namespace trainer::cli
