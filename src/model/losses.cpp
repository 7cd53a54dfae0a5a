// Losses over the last layer's raw outputs, each computed with its gradient in one pass per
// row: softmax cross-entropy (stable logsumexp), MSE (mean over the T outputs of a row), and
// sigmoid binary cross-entropy from logits (stable softplus).
//
// Per-sample losses are summed in double; the caller divides by the sample count.
#include <cmath>
#include <string>

#include "kernels.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

[[noreturn]] void bad_label(std::int32_t label, Index row, Index classes) {
  throw Error::data("labels", "label " + std::to_string(label) + " of row " + std::to_string(row) +
                                  " is out of range",
                    "class ids in [0, " + std::to_string(classes) + ")");
}

template <class T>
void cross_entropy(T* z, Index rows, Index cols, const std::int32_t* labels, bool grad, T scale,
                   T* outputs, BatchStats& stats) {
  for (Index r = 0; r < rows; ++r) {
    T* row = z + r * cols;
    Index best = 0;
    for (Index j = 1; j < cols; ++j)
      if (row[j] > row[best]) best = j;
    const T max = row[best];
    T sum = 0;
    for (Index j = 0; j < cols; ++j) sum += std::exp(row[j] - max);
    const T log_sum = std::log(sum);
    if (labels) {
      const std::int32_t y = labels[r];
      if (y < 0 || y >= cols) bad_label(y, r, cols);
      stats.loss_sum += static_cast<double>(log_sum + max - row[y]);
      stats.correct += (best == y);
    }
    if (outputs)
      for (Index j = 0; j < cols; ++j) outputs[r * cols + j] = std::exp(row[j] - max - log_sum);
    if (grad) {
      const T inv = T(1) / sum;
      for (Index j = 0; j < cols; ++j) row[j] = std::exp(row[j] - max) * inv * scale;
      row[labels[r]] -= scale;
    }
  }
}

template <class T>
void mean_squared_error(T* z, Index rows, Index cols, const float* targets, bool grad, T scale,
                        T* outputs, BatchStats& stats) {
  const T per_output = T(1) / static_cast<T>(cols);
  for (Index i = 0; i < rows * cols; ++i) {
    if (outputs) outputs[i] = z[i];
    if (!targets) continue;
    const T diff = z[i] - static_cast<T>(targets[i]);
    stats.loss_sum += static_cast<double>(diff * diff * per_output);
    if (grad) z[i] = T(2) * diff * per_output * scale;
  }
}

template <class T>
void binary_cross_entropy(T* z, Index rows, const std::int32_t* labels, bool grad, T scale,
                          T* outputs, BatchStats& stats) {
  for (Index r = 0; r < rows; ++r) {
    const T v = z[r];
    const T p = T(1) / (T(1) + std::exp(-v));
    if (outputs) outputs[r] = p;
    if (!labels) continue;
    const std::int32_t y = labels[r];
    if (y != 0 && y != 1) bad_label(y, r, 2);
    // softplus(v) - y v, written so that neither exp overflows
    const T loss = std::max(v, T(0)) - v * static_cast<T>(y) + std::log1p(std::exp(-std::abs(v)));
    stats.loss_sum += static_cast<double>(loss);
    stats.correct += ((v > T(0)) == (y == 1));
    if (grad) z[r] = (p - static_cast<T>(y)) * scale;
  }
}

}  // namespace

template <class T>
BatchStats loss_forward(Loss loss, T* z, Index rows, Index cols, const std::int32_t* labels,
                        const float* targets, bool grad, T scale, T* outputs) {
  BatchStats stats;
  stats.samples = rows;
  switch (loss) {
    case Loss::cross_entropy:
      cross_entropy(z, rows, cols, labels, grad && labels, scale, outputs, stats);
      break;
    case Loss::mse: mean_squared_error(z, rows, cols, targets, grad && targets, scale, outputs, stats); break;
    case Loss::binary_cross_entropy:
      binary_cross_entropy(z, rows, labels, grad && labels, scale, outputs, stats);
      break;
  }
  return stats;
}

template BatchStats loss_forward<float>(Loss, float*, Index, Index, const std::int32_t*, const float*,
                                        bool, float, float*);
template BatchStats loss_forward<double>(Loss, double*, Index, Index, const std::int32_t*,
                                         const float*, bool, double, double*);

}  // namespace trainer::model
