// Fuzzes `trainer import` (import_data) on CSV and IDX input, plain or gzip'd. The first two
// input bytes choose the options (format, header, label column, delimiter, splits, and for IDX
// whether a labels file is cut from the input); the rest is the file. Every import that
// succeeds must have written .npy files that the trainer's own reader opens with the shapes the
// summary reports.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "trainer/error.hpp"
#include "trainer/import.hpp"
#include "trainer/npy.hpp"

namespace {

void check_outputs(const trainer::ImportSummary& summary) {
  std::int64_t rows = 0;
  for (const trainer::ImportedFile& file : summary.files) {
    const trainer::NpyArray array = trainer::NpyArray::open(file.path);  // must not throw
    if (array.header().shape != file.shape || array.header().dtype != file.dtype) __builtin_trap();
    if (file.path.find("_y.npy") == std::string::npos && file.path.find("/y.npy") == std::string::npos)
      rows += file.shape.at(0);
  }
  if (rows != summary.rows) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainer_fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > trainer_fuzz::kMaxInput) return -1;
  const std::uint8_t a = data[0], b = data[1];
  data += 2;
  size -= 2;

  trainer::ImportOptions options;
  options.out_dir = trainer_fuzz::scratch_dir() + "/out";
  trainer_fuzz::clear_dir(options.out_dir);
  static constexpr trainer::ImportFormat kFormats[] = {trainer::ImportFormat::csv, trainer::ImportFormat::idx,
                                                       trainer::ImportFormat::auto_detect,
                                                       trainer::ImportFormat::csv};
  options.format = kFormats[a & 3];
  static constexpr trainer::CsvHeader kHeaders[] = {trainer::CsvHeader::auto_detect, trainer::CsvHeader::present,
                                                    trainer::CsvHeader::absent, trainer::CsvHeader::auto_detect};
  options.header = kHeaders[(a >> 2) & 3];
  static const char* const kLabels[] = {"last", "first", "1", "label"};
  options.label_column = kLabels[(a >> 4) & 3];
  static constexpr char kDelimiters[] = {',', ';', '\t', ' '};
  options.delimiter = kDelimiters[(a >> 6) & 3];
  switch (b & 7) {
    case 1: options.split_test = 1; break;
    case 2: options.split_test = 3; break;
    case 3: options.split_every = 2; break;
    case 4: options.split_every = 5; break;
    case 5: options.prefix = "p"; break;
    default: break;
  }

  // IDX with labels: the input is cut in two at the offset given by the high bits of b.
  std::size_t cut = size;
  if ((b & 8) != 0 && options.format != trainer::ImportFormat::csv) {
    cut = std::min<std::size_t>(size, (static_cast<std::size_t>(b >> 4) + 1) * 4 + 8);
  }
  options.input = trainer_fuzz::write_file("input.data", data, cut);
  if (cut < size) options.labels = trainer_fuzz::write_file("labels.data", data + cut, size - cut);

  trainer::ImportSummary summary;
  try {
    summary = trainer::import_data(options);
  } catch (const trainer::Error& e) {
    if (e.exit_code() == 1) __builtin_trap();  // a runtime (output) failure on a writable tmp dir
    return 0;
  }
  check_outputs(summary);
  return 0;
}
