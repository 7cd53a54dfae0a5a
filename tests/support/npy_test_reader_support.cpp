#include "support/npy_test_reader_support.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace test_npy {
namespace {

std::string value_of(const std::string& header, const std::string& key, const std::string& path) {
  const auto at = header.find("'" + key + "'");
  if (at == std::string::npos) throw std::runtime_error(path + ": header lacks " + key);
  auto colon = header.find(':', at);
  return header.substr(colon + 1);
}

}  // namespace

std::vector<float> Array::as_float() const { return {values.begin(), values.end()}; }

std::vector<std::int32_t> Array::as_int32() const {
  std::vector<std::int32_t> out;
  for (double v : values) out.push_back(static_cast<std::int32_t>(v));
  return out;
}

Array read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0 || bytes[6] != 1)
    throw std::runtime_error(path + ": not a version 1.0 .npy file");
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::string header = bytes.substr(10, header_len);
  Array a;
  std::string descr = value_of(header, "descr", path);
  a.descr = descr.substr(descr.find('\'') + 1, 3);
  if (value_of(header, "fortran_order", path).find("False") != 1)
    throw std::runtime_error(path + ": fortran order not supported");
  std::string shape = value_of(header, "shape", path);
  shape = shape.substr(shape.find('(') + 1, shape.find(')') - shape.find('(') - 1);
  std::int64_t count = 1;
  for (std::size_t pos = 0; pos < shape.size();) {
    const auto comma = shape.find(',', pos);
    const std::string item = shape.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_of("0123456789") != std::string::npos) {
      a.shape.push_back(std::stoll(item));
      count *= a.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::size_t width = a.descr == "<f4" ? 4 : (a.descr == "<f8" || a.descr == "<i8") ? 8 : 0;
  if (width == 0) throw std::runtime_error(path + ": dtype " + a.descr + " not supported");
  const std::size_t offset = 10 + header_len;
  if (bytes.size() != offset + static_cast<std::size_t>(count) * width)
    throw std::runtime_error(path + ": data size does not match the shape");
  const char* data = bytes.data() + offset;
  a.values.resize(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (a.descr == "<f4") {
      float v;
      std::memcpy(&v, data + i * 4, 4);
      a.values[i] = v;
    } else if (a.descr == "<f8") {
      std::memcpy(&a.values[i], data + i * 8, 8);
    } else {
      std::int64_t v;
      std::memcpy(&v, data + i * 8, 8);
      a.values[i] = static_cast<double>(v);
    }
  }
  return a;
}

}  // namespace test_npy
