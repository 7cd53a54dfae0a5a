// `trainer import`: turns CSV (optionally gzip'd) and IDX files (the MNIST family's format,
// optionally gzip'd) into x.npy / y.npy.
//
// CSV is read in two streaming passes, so memory stays O(one row) whatever the file size:
// the first validates every row and finds the smallest dtype that holds every value exactly
// (uint8 stays uint8; integers take the smallest of u1/i1/u2/i2/u4/i4/i8, other values
// float32 when every value survives the round trip, else float64), the second converts and
// writes. Nothing is written unless the whole input is valid. IDX is converted in one pass,
// keeping its dtype and shape (images stay [N, rows, cols]).
//
// Errors: bad input is Error::data (exit 3) naming "file:line:column" for CSV (column = the
// 1-based field number) or the file for IDX; bad options are Error::usage (exit 2) naming the
// flag; output failures are Error::runtime (exit 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/npy.hpp"

namespace trainer {

enum class ImportFormat { auto_detect, csv, idx };
enum class CsvHeader { auto_detect, present, absent };

struct ImportOptions {
  std::string input;              // the CSV or IDX file (images for IDX)
  std::string labels;             // IDX only: the labels file; empty = write x.npy only
  std::string out_dir;            // created (with parents) when missing
  ImportFormat format = ImportFormat::auto_detect;  // auto: IDX magic bytes, else CSV
  // CSV: "last" (default), "first", a 0-based index, or a header name. A value made only of
  // digits is an index.
  std::string label_column = "last";
  CsvHeader header = CsvHeader::auto_detect;  // auto: the first row is a header if any field is not a number
  char delimiter = ',';
  std::string prefix;             // non-empty: <prefix>_x.npy / <prefix>_y.npy
  // > 0: the last split_test rows go to test_{x,y}.npy, the others to train_{x,y}.npy
  // (prefix must then be empty). File order is kept: the split is reproducible.
  std::int64_t split_test = 0;
  // > 0: every split_every-th row (rows k-1, 2k-1, ...) goes to test_{x,y}.npy, the others to
  // train_{x,y}.npy: an interleaved split, so both halves come from the whole file (files are
  // often ordered by source or writer). Exclusive with split_test.
  std::int64_t split_every = 0;
};

struct ImportedFile {
  std::string path;
  DType dtype = DType::f4;
  std::vector<std::int64_t> shape;
};

struct ImportSummary {
  ImportFormat format = ImportFormat::csv;  // the format actually read
  std::int64_t rows = 0;
  std::int64_t features = 0;    // values per row of x (rows*cols for IDX images)
  bool header = false;          // CSV: a header row was skipped
  std::int64_t label_column = -1;  // CSV: 0-based index of the label column
  std::vector<ImportedFile> files;  // x then y (train then test when split)
};

ImportSummary import_data(const ImportOptions& options);

// Parsing helpers shared with the CLI (exposed for tests).
ImportFormat parse_import_format(const std::string& text);  // "auto"|"csv"|"idx", else Error::usage

}  // namespace trainer
