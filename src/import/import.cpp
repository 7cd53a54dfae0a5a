#include "trainer/import.hpp"

#include <filesystem>
#include <system_error>
#include <utility>

#include "import_detail.hpp"
#include "trainer/error.hpp"

namespace trainer {
namespace import_detail {
namespace {

std::string output_path(const ImportOptions& options, const std::string& prefix, const char* what) {
  const std::string name = prefix.empty() ? std::string(what) + ".npy" : prefix + "_" + what + ".npy";
  return (std::filesystem::path(options.out_dir) / name).string();
}

}  // namespace

OutputSet::OutputSet(const ImportOptions& options, std::int64_t total_rows, DType x_dtype,
                     std::vector<std::int64_t> x_row_shape, bool with_y, DType y_dtype,
                     std::vector<std::int64_t> y_row_shape)
    : first_test_row_(total_rows) {
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) throw Error::runtime(options.out_dir, "cannot create the output folder: " + ec.message());
  const bool split = options.split_test > 0 || options.split_every > 0;
  if (options.split_every > 0 && options.split_every > total_rows) {
    throw Error::usage("--split-every", std::to_string(options.split_every) + " leaves no test rows in " + options.input +
                       " (" + std::to_string(total_rows) + " rows)", "2 to " + std::to_string(total_rows));
  }
  split_every_ = options.split_every;
  if (split && options.split_test >= total_rows) {
    throw Error::usage("--split-test", std::to_string(options.split_test) + " test rows leave no training rows in " +
                       options.input + " (" + std::to_string(total_rows) + " rows)",
                       "1 to " + std::to_string(total_rows - 1));
  }
  if (split) first_test_row_ = total_rows - options.split_test;
  const std::string main_prefix = split ? "train" : options.prefix;
  main_.x = std::make_unique<NpyStreamWriter>(output_path(options, main_prefix, "x"), x_dtype, x_row_shape);
  if (with_y) main_.y = std::make_unique<NpyStreamWriter>(output_path(options, main_prefix, "y"), y_dtype, y_row_shape);
  if (split) {
    test_.x = std::make_unique<NpyStreamWriter>(output_path(options, "test", "x"), x_dtype, x_row_shape);
    if (with_y) test_.y = std::make_unique<NpyStreamWriter>(output_path(options, "test", "y"), y_dtype, y_row_shape);
  }
}

void OutputSet::append(std::int64_t row, const void* x, const void* y) {
  const bool test = split_every_ > 0 ? row % split_every_ == split_every_ - 1 : row >= first_test_row_;
  Pair& pair = test ? test_ : main_;
  pair.x->append(x, 1);
  if (pair.y) pair.y->append(y, 1);
}

void OutputSet::finish(ImportSummary& summary) {
  for (Pair* pair : {&main_, &test_}) {
    for (NpyStreamWriter* writer : {pair->x.get(), pair->y.get()}) {
      if (writer == nullptr) continue;
      writer->finish();
    }
  }
  // Recorded after every finish() so the summary lists only files that exist.
  for (Pair* pair : {&main_, &test_}) {
    if (pair->x == nullptr) continue;
    for (NpyStreamWriter* writer : {pair->x.get(), pair->y.get()}) {
      if (writer == nullptr) continue;
      ImportedFile file;
      file.path = writer->path();
      file.dtype = writer->dtype();
      file.shape = {writer->rows()};
      file.shape.insert(file.shape.end(), writer->row_shape().begin(), writer->row_shape().end());
      summary.files.push_back(std::move(file));
    }
  }
}

}  // namespace import_detail

ImportFormat parse_import_format(const std::string& text) {
  if (text == "auto") return ImportFormat::auto_detect;
  if (text == "csv") return ImportFormat::csv;
  if (text == "idx") return ImportFormat::idx;
  throw Error::usage("--format", "unknown format '" + text + "'", "auto, csv or idx");
}

ImportSummary import_data(const ImportOptions& options) {
  if (options.out_dir.empty()) throw Error::usage("--out", "an output folder is required", "--out DIR");
  if (options.split_test < 0) throw Error::usage("--split-test", "must not be negative", "a row count >= 1");
  if (options.split_every < 0 || options.split_every == 1) {
    throw Error::usage("--split-every", "must be at least 2", "K >= 2: every K-th row goes to the test set");
  }
  if (options.split_every > 0 && options.split_test > 0) {
    throw Error::usage("--split-every", "cannot be combined with --split-test", "one of the two");
  }
  if ((options.split_test > 0 || options.split_every > 0) && !options.prefix.empty()) {
    throw Error::usage("--prefix", "cannot be combined with --split-test, which writes train_* and test_*",
                       "one of --prefix or --split-test");
  }
  ImportFormat format = options.format;
  if (format == ImportFormat::auto_detect) {
    // Magic bytes decide; a name that says IDX is read as IDX so a damaged file gets an IDX message.
    const std::string name = std::filesystem::path(options.input).filename().string();
    const bool idx_name = name.find("idx") != std::string::npos || name.find("-ubyte") != std::string::npos;
    format = (idx_name || import_detail::has_idx_magic(options.input)) ? ImportFormat::idx : ImportFormat::csv;
  }
  if (format == ImportFormat::csv) {
    if (!options.labels.empty()) {
      throw Error::usage("--labels", "is for IDX images; a CSV file holds its labels in a column",
                         "--label-column NAME|INDEX|first|last");
    }
    return import_detail::import_csv(options);
  }
  return import_detail::import_idx(options);
}

}  // namespace trainer
