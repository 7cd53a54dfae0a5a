// Fuzzes read_checkpoint. The first input byte picks the mode: odd = the rest is the file as
// is (so truncated and bit-flipped checkpoints are refused by their CRC), even = the rest gets
// its correct CRC32 appended, so the fuzzer gets past the checksum and reaches the field
// parser. A checkpoint that loads must be written back by write_checkpoint byte for byte (one
// of an older format version: written in the current one, it must read back the same).
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/error.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainer_fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > trainer_fuzz::kMaxInput) return -1;
  std::vector<std::uint8_t> file(data + 1, data + size);
  if ((data[0] & 1) == 0) {
    const auto crc = static_cast<std::uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), file.data(), file.size()));
    std::uint8_t bytes[4];
    std::memcpy(bytes, &crc, 4);
    file.insert(file.end(), bytes, bytes + 4);
  }
  const std::string path = trainer_fuzz::write_file("input.ckpt", file.data(), file.size());
  trainer::CheckpointData loaded;
  try {
    loaded = trainer::read_checkpoint(path);
  } catch (const trainer::Error& e) {
    if (e.exit_code() != 3) __builtin_trap();  // a bad checkpoint is a data error
    return 0;
  }
  const std::string copy = trainer_fuzz::scratch_dir() + "/copy.ckpt";
  const trainer::CheckpointView view{&loaded, loaded.params, loaded.optimizer_state};
  trainer::write_checkpoint(copy, view);
  if (loaded.version != trainer::kCheckpointVersion) {
    const trainer::CheckpointData again = trainer::read_checkpoint(copy);
    if (again.config_json != loaded.config_json || again.params != loaded.params ||
        again.optimizer_state != loaded.optimizer_state || again.input != loaded.input ||
        again.mean != loaded.mean || again.optimizer_steps != loaded.optimizer_steps)
      __builtin_trap();
    return 0;
  }
  const std::string written = slurp(copy);
  if (written.size() != file.size() || std::memcmp(written.data(), file.data(), file.size()) != 0)
    __builtin_trap();
  return 0;
}
