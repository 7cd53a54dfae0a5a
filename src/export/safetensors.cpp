// The safetensors format: u64 little-endian N, N bytes of JSON header, then the tensor bytes.
// The header maps each name to {dtype, shape, data_offsets [begin, end)} relative to the end of
// the header; offsets follow one another without gaps, and __metadata__ holds string pairs.
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "exported_model.hpp"

namespace trainer::export_detail {
namespace {

void append_u64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void append_f32_le(std::string& out, std::span<const float> values) {
  const std::size_t start = out.size();
  out.resize(start + values.size_bytes());
  std::memcpy(out.data() + start, values.data(), values.size_bytes());
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = start; i < out.size(); i += 4) {
      std::swap(out[i], out[i + 3]);
      std::swap(out[i + 1], out[i + 2]);
    }
  }
}

}  // namespace

std::string safetensors_bytes(const ParamLayout& layout, std::span<const float> params,
                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  // ordered_json keeps the tensors in layout order, so the header reads like the data.
  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) meta[key] = value;
  header["__metadata__"] = meta;
  std::uint64_t offset = 0;
  for (const TensorSlot& t : layout.tensors) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.count) * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Padding with spaces (valid JSON whitespace) aligns the tensor data to 8 bytes.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  append_u64_le(out, text.size());
  out += text;
  for (const TensorSlot& t : layout.tensors)
    append_f32_le(out, params.subspan(static_cast<std::size_t>(t.offset), static_cast<std::size_t>(t.count)));
  return out;
}

}  // namespace trainer::export_detail
