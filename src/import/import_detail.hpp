// Internals of `trainer import` shared by the CSV and IDX readers: where the output files go
// and how rows are routed to them (one x/y pair, or train/test pairs when splitting).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainer/import.hpp"
#include "trainer/npy_writer.hpp"

namespace trainer::import_detail {

// Opens the writers for one import. REQUIRES: total_rows is the final row count (the split
// point depends on it). Without finish() every temporary file is removed and no output changes.
class OutputSet {
 public:
  OutputSet(const ImportOptions& options, std::int64_t total_rows, DType x_dtype,
            std::vector<std::int64_t> x_row_shape, bool with_y, DType y_dtype,
            std::vector<std::int64_t> y_row_shape);

  // Appends row number `row` (0-based, in order): x and, when with_y, y.
  void append(std::int64_t row, const void* x, const void* y);
  // Finishes every file and records it in the summary.
  void finish(ImportSummary& summary);

 private:
  struct Pair {
    std::unique_ptr<NpyStreamWriter> x, y;
  };
  std::int64_t first_test_row_;
  std::int64_t split_every_ = 0;
  Pair main_, test_;
};

ImportSummary import_csv(const ImportOptions& options);
ImportSummary import_idx(const ImportOptions& options);
// True when the file starts like an IDX file (two zero bytes, a known dtype code, ndims >= 1).
bool has_idx_magic(const std::string& path);

}  // namespace trainer::import_detail
