// `trainer import FILE [--labels FILE] --out DIR ...`: CSV or IDX into .npy (see trainer/import.hpp).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/error.hpp"
#include "trainer/import.hpp"
#include "trainer/npy_writer.hpp"

namespace trainer::cli {
namespace {

struct ImportFlags {
  ImportOptions options;
  std::string format = "auto";
  std::string delimiter = ",";
  bool header = false;
  bool no_header = false;
};

char parse_delimiter(const std::string& text) {
  if (text == "\\t" || text == "tab") return '\t';
  if (text.size() == 1) return text[0];
  throw Error::usage("--delimiter", "'" + text + "' is not one character", "one character such as , ; | or \\t");
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int run_import(ImportFlags& flags, const Globals& globals) {
  ImportOptions& options = flags.options;
  options.format = parse_import_format(flags.format);
  options.delimiter = parse_delimiter(flags.delimiter);
  if (flags.header && flags.no_header) {
    throw Error::usage("--header", "conflicts with --no-header", "one of --header, --no-header, or neither (auto-detect)");
  }
  options.header = flags.header ? CsvHeader::present : flags.no_header ? CsvHeader::absent : CsvHeader::auto_detect;
  const ImportSummary summary = import_data(options);
  const bool csv = summary.format == ImportFormat::csv;
  if (globals.json) {
    nlohmann::json out;
    out["input"] = options.input;
    out["format"] = csv ? "csv" : "idx";
    out["rows"] = summary.rows;
    out["features"] = summary.features;
    if (csv) {
      out["header"] = summary.header;
      out["label_column"] = summary.label_column;
    }
    out["files"] = nlohmann::json::array();
    for (const auto& file : summary.files) {
      out["files"].push_back({{"path", file.path}, {"dtype", npy_format::descr(file.dtype)}, {"shape", file.shape}});
    }
    std::cout << out.dump() << '\n';
  } else if (!globals.quiet) {
    std::ostringstream line;
    line << "imported " << options.input << " (" << (csv ? "csv" : "idx");
    if (csv) line << (summary.header ? ", header" : ", no header") << ", label column " << summary.label_column;
    line << "): " << summary.rows << " rows, " << summary.features << " features ->";
    for (std::size_t i = 0; i < summary.files.size(); ++i) {
      const auto& file = summary.files[i];
      line << (i ? ", " : " ") << file.path << " " << npy_format::numpy_name(file.dtype) << " " << shape_text(file.shape);
    }
    std::cout << line.str() << '\n';
  }
  return 0;
}

}  // namespace

void add_import(CLI::App& app, Globals& globals, Action& action) {
  auto flags = std::make_shared<ImportFlags>();
  auto* sub = app.add_subcommand("import", "Convert CSV (optionally .gz) or IDX (MNIST family, optionally .gz) into x.npy/y.npy");
  add_common_flags(*sub, globals, kOutputFlags);
  sub->footer(
      "Examples:\n"
      "  trainer import data.csv.gz --out data/mine                 # label = last column\n"
      "  trainer import iris.csv --label-column species --out data/iris\n"
      "  trainer import digits.csv.gz --no-header --split-every 6 --out data/digits\n"
      "  trainer import train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz --prefix train --out data/fm\n"
      "The output folder is created when missing; existing files are replaced atomically.\n"
      "x.npy gets the smallest dtype that holds every value exactly (uint8 stays uint8).");
  sub->add_option("file", flags->options.input, "CSV or IDX file (gzip'd or not)")->required();
  sub->add_option("--labels", flags->options.labels, "IDX labels file (gzip'd or not)");
  sub->add_option("--out", flags->options.out_dir, "Output folder (created when missing)")->required();
  sub->add_option("--label-column", flags->options.label_column, "CSV label column: NAME, 0-based INDEX, first or last")
      ->default_str("last");
  sub->add_flag("--header", flags->header, "CSV: the first row is a header (default: auto-detect)");
  sub->add_flag("--no-header", flags->no_header, "CSV: the first row is data");
  sub->add_option("--delimiter", flags->delimiter, "CSV field delimiter: one character, or \\t")->default_str(",");
  sub->add_option("--format", flags->format, "auto (IDX magic bytes or name, else CSV), csv or idx")->default_str("auto");
  sub->add_option("--prefix", flags->options.prefix, "Write <prefix>_x.npy and <prefix>_y.npy");
  sub->add_option("--split-test", flags->options.split_test,
                  "Last N rows to test_{x,y}.npy, the rest to train_{x,y}.npy");
  sub->add_option("--split-every", flags->options.split_every,
                  "Every K-th row to test_{x,y}.npy, the rest to train_{x,y}.npy (an interleaved split)");
  sub->callback([flags, &globals, &action] { action = [flags, &globals] { return run_import(*flags, globals); }; });
}

}  // namespace trainer::cli
