// Dataset: x and y opened together, cross-checked, and read a batch at a time.
#include "trainer/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "trainer/error.hpp"

namespace trainer {
namespace {

bool is_float(DType d) { return d == DType::f2 || d == DType::f4 || d == DType::f8; }

// Rows per streamed chunk: about 1 MiB of float32 staging, at least one row.
std::int64_t chunk_rows(std::int64_t width) {
  return std::max<std::int64_t>(1, (std::int64_t{1} << 18) / std::max<std::int64_t>(width, 1));
}

// Calls f(first_row, row_indices) over all rows [0, n) in chunks, releasing consumed pages so a
// check over a file larger than RAM keeps resident memory flat.
template <typename F>
void for_each_chunk(std::int64_t n, std::int64_t rows_per_chunk, const NpyArray& a, F&& f) {
  std::vector<std::int64_t> rows;
  for (std::int64_t begin = 0; begin < n; begin += rows_per_chunk) {
    const std::int64_t end = std::min(n, begin + rows_per_chunk);
    rows.resize(static_cast<std::size_t>(end - begin));
    for (std::int64_t r = begin; r < end; ++r) rows[static_cast<std::size_t>(r - begin)] = r;
    f(begin, rows);
    a.release_rows(begin, end);
  }
}

}  // namespace

void check_finite(const NpyArray& a, const char* what) {
  if (!is_float(a.header().dtype)) return;
  const std::int64_t width = a.row_width();
  const std::int64_t per_chunk = chunk_rows(width);
  std::vector<float> buffer(static_cast<std::size_t>(per_chunk * width));
  for_each_chunk(a.rows(), per_chunk, a, [&](std::int64_t begin, const std::vector<std::int64_t>& rows) {
    a.gather_f32(rows, buffer.data());
    const std::size_t values = rows.size() * static_cast<std::size_t>(width);
    for (std::size_t i = 0; i < values; ++i) {
      if (!std::isfinite(buffer[i])) {
        const std::int64_t row = begin + static_cast<std::int64_t>(i) / width;
        throw Error::data(a.path(), std::string(std::isnan(buffer[i]) ? "NaN" : "infinite (or beyond float32)") +
                                        " " + what + " in row " + std::to_string(row) + ", column " +
                                        std::to_string(static_cast<std::int64_t>(i) % width),
                          "finite values");
      }
    }
  });
}

Dataset Dataset::open(const std::string& x_path, const std::string& y_path, TargetKind kind,
                      std::int64_t outputs) {
  Dataset d;
  d.x_ = NpyArray::open(x_path);
  d.y_ = NpyArray::open(y_path);
  d.kind_ = kind;
  d.outputs_ = outputs;
  const std::int64_t n = d.x_.rows(), ny = d.y_.rows();
  if (n != ny)
    throw Error::data(y_path, "has " + std::to_string(ny) + " rows but " + x_path + " has " + std::to_string(n),
                      "x and y with the same number of rows");
  if (d.x_.row_width() == 0) throw Error::data(x_path, "samples have no values (a zero-size axis)");
  const auto& ys = d.y_.header().shape;
  if (kind == TargetKind::class_ids) {
    if (!(ys.size() == 1 || (ys.size() == 2 && ys[1] == 1)))
      throw Error::data(y_path, "class labels must have shape (N,) or (N, 1), got " + std::to_string(ys.size()) +
                                    "-d with " + std::to_string(d.y_.row_width()) + " values per row",
                        "one integer class id per row");
  } else {
    if (ys.size() > 2)
      throw Error::data(y_path, "regression targets must have shape (N,) or (N, T)", "a 1-D or 2-D array");
    if (outputs > 0 && d.y_.row_width() != outputs)
      throw Error::data(y_path, "targets have " + std::to_string(d.y_.row_width()) +
                                    " values per row but the model has " + std::to_string(outputs) + " outputs",
                        "T == the last layer's units");
  }
  return d;
}

std::int64_t Dataset::size() const { return x_.rows(); }
std::int64_t Dataset::width() const { return x_.row_width(); }
std::int64_t Dataset::target_width() const { return kind_ == TargetKind::class_ids ? 1 : y_.row_width(); }

std::int64_t Dataset::classes() const { return outputs_ == 1 ? 2 : outputs_; }

void Dataset::gather_inputs(std::span<const std::int64_t> rows, const InputTransform& transform, float* x_out,
                            std::span<const std::int64_t> to) const {
  x_.gather_f32(rows, x_out, transform.scale, transform.mean, transform.inv_std, to, transform.chunks,
                transform.channels_first);
}

void Dataset::gather(std::span<const std::int64_t> rows, const InputTransform& transform, float* x_out,
                     std::int32_t* labels_out, float* targets_out) const {
  gather_inputs(rows, transform, x_out);
  if (kind_ == TargetKind::class_ids)
    y_.gather_labels(rows, labels_out, classes());
  else
    y_.gather_f32(rows, targets_out);
}

void Dataset::check_values() const {
  check_finite(x_, "input");
  if (kind_ == TargetKind::values) {
    check_finite(y_, "target");
    return;
  }
  const std::int64_t per_chunk = chunk_rows(1);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(per_chunk));
  for_each_chunk(y_.rows(), per_chunk, y_, [&](std::int64_t, const std::vector<std::int64_t>& rows) {
    y_.gather_labels(rows, labels.data(), classes());  // throws naming y and the row
  });
}

InputTransform Dataset::standardize_stats(std::span<const std::int64_t> rows, float scale, ChannelGroups groups) const {
  const std::int64_t width = x_.row_width();
  const auto w = static_cast<std::size_t>(width);
  const std::int64_t per_chunk = chunk_rows(width);
  std::vector<float> buffer(static_cast<std::size_t>(per_chunk) * w);
  // Welford's update per feature in float64: stable where sum/sum-of-squares would cancel.
  std::vector<double> mean(w, 0.0), m2(w, 0.0);
  std::int64_t seen = 0;
  for (std::size_t begin = 0; begin < rows.size(); begin += static_cast<std::size_t>(per_chunk)) {
    auto chunk = rows.subspan(begin, std::min(rows.size() - begin, static_cast<std::size_t>(per_chunk)));
    x_.gather_f32(chunk, buffer.data(), scale);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      ++seen;
      const float* row = buffer.data() + i * w;
      for (std::size_t j = 0; j < w; ++j) {
        const double delta = row[j] - mean[j];
        mean[j] += delta / static_cast<double>(seen);
        m2[j] += delta * (row[j] - mean[j]);
      }
    }
  }
  if (groups.channels > 0) {
    // Pooled per channel: every value of a channel was seen `seen` times, so the channel's mean
    // is the mean of its values' means, and its squares gather each value's m2 plus its mean's
    // distance from the channel's.
    const auto c = static_cast<std::size_t>(groups.channels);
    std::vector<double> cmean(c, 0.0), cm2(c, 0.0), count(c, 0.0);
    for (std::size_t j = 0; j < w; ++j) {
      const auto ch = static_cast<std::size_t>(groups.channel_of(static_cast<std::int64_t>(j), width));
      cmean[ch] += mean[j];
      count[ch] += 1.0;
    }
    for (std::size_t ch = 0; ch < c; ++ch) cmean[ch] /= count[ch];
    for (std::size_t j = 0; j < w; ++j) {
      const auto ch = static_cast<std::size_t>(groups.channel_of(static_cast<std::int64_t>(j), width));
      const double d = mean[j] - cmean[ch];
      cm2[ch] += m2[j] + static_cast<double>(seen) * d * d;
    }
    for (std::size_t j = 0; j < w; ++j) {
      const auto ch = static_cast<std::size_t>(groups.channel_of(static_cast<std::int64_t>(j), width));
      mean[j] = cmean[ch];
      m2[j] = cm2[ch] / count[ch];
    }
  }
  InputTransform t;
  t.scale = scale;
  t.mean.resize(w);
  t.inv_std.resize(w);
  constexpr double kStdFloor = 1e-6;  // constant features: leave them centred, unscaled
  for (std::size_t j = 0; j < w; ++j) {
    const double std_dev = seen > 0 ? std::sqrt(m2[j] / static_cast<double>(seen)) : 0.0;
    t.mean[j] = static_cast<float>(mean[j]);
    t.inv_std[j] = std_dev < kStdFloor ? 1.0f : static_cast<float>(1.0 / std_dev);
  }
  return t;
}

}  // namespace trainer
