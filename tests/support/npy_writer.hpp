// Test helper: writes small .npy files (any descr, shape, order, raw bytes) into a per-process
// temporary folder, so tests can build twins and malformed files next to the public fixtures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::test {

// A fresh path inside the process's temporary folder (created on first use).
std::string temp_path(const std::string& name);

// Writes a version 1.0 file at `path` with the given header fields and data bytes.
void write_npy(const std::string& path, const std::string& descr, const std::vector<std::int64_t>& shape,
               const void* data, std::size_t bytes, bool fortran_order = false);

template <typename T>
std::string write_npy(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                      const std::vector<T>& values, bool fortran_order = false) {
  std::string path = temp_path(name);
  write_npy(path, descr, shape, values.data(), values.size() * sizeof(T), fortran_order);
  return path;
}

}  // namespace trainer::test
