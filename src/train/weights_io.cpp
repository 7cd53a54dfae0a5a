#include "trainer/weights_io.hpp"

#include <filesystem>

#include "trainer/dataset.hpp"
#include "trainer/error.hpp"
#include "trainer/npy.hpp"
#include "trainer/npy_writer.hpp"

namespace trainer {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

std::span<const float> tensor_values(std::span<const float> params, const TensorSlot& t) {
  return params.subspan(static_cast<std::size_t>(t.offset), static_cast<std::size_t>(t.count));
}

void export_weights(const std::string& dir, const ParamLayout& layout, std::span<const float> params) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error::runtime(dir, "cannot create folder for --export-weights: " + ec.message());
  for (const TensorSlot& t : layout.tensors) {
    const std::string path = (std::filesystem::path(dir) / (t.name + ".npy")).string();
    write_npy(path, DType::f4, t.shape, tensor_values(params, t).data());
  }
}

void import_weights(const std::string& dir, const ParamLayout& layout, std::span<float> params) {
  for (const TensorSlot& t : layout.tensors) {
    const std::string path = (std::filesystem::path(dir) / (t.name + ".npy")).string();
    NpyArray a = NpyArray::open(path);
    if (a.header().shape != t.shape) {
      throw Error::data(path, "has shape " + shape_text(a.header().shape),
                        "the model's " + t.name + " shape " + shape_text(t.shape));
    }
    std::vector<std::int64_t> rows(static_cast<std::size_t>(t.shape[0]));
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
    // Rejected as inputs are: a non-finite weight is NaN in every output it touches, except
    // where the GEMM skips an all-zero step (packed_gemm.hpp), so it would not even show.
    check_finite(a, "weight");
    a.gather_f32(rows, params.data() + t.offset);
  }
}

}  // namespace trainer
