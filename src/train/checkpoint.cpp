#include "trainer/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "trainer/error.hpp"

namespace trainer {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'N', 'R', 'C', 'K', 'P', 'T'};

// Streams bytes to a file descriptor while keeping the running CRC32.
class CrcWriter {
 public:
  CrcWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void bytes(const void* data, std::size_t n) {
    if (n == 0) return;  // crc32_z(crc, NULL, 0) would restart the CRC, not continue it
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
    raw(data, n);
  }
  void raw(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw Error::runtime(path_, std::string("cannot write checkpoint: ") + std::strerror(errno));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  template <class T>
  void pod(const T& v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void floats(std::span<const float> v) {
    pod<std::uint64_t>(v.size());
    bytes(v.data(), v.size_bytes());
  }
  uLong crc() const { return crc_; }

 private:
  int fd_;
  std::string path_;
  uLong crc_ = crc32_z(0L, Z_NULL, 0);
};

// Reads from an in-memory copy of the file, refusing to run past its end.
class Reader {
 public:
  Reader(const std::string& bytes, std::string path) : data_(bytes), path_(std::move(path)) {}
  void bytes(void* out, std::size_t n) {
    if (n > data_.size() - pos_) throw Error::data(path_, "checkpoint is truncated");
    if (n == 0) return;  // an empty vector's data() may be null, and memcpy(null, ..., 0) is UB
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
  }
  template <class T>
  T pod() {
    T v{};
    bytes(&v, sizeof v);
    return v;
  }
  std::uint64_t length(std::uint64_t item_size) {
    auto n = pod<std::uint64_t>();
    if (item_size != 0 && n > (data_.size() - pos_) / item_size)
      throw Error::data(path_, "checkpoint is truncated or corrupt (a length points past the end)");
    return n;
  }
  std::string str() {
    std::string s(length(1), '\0');
    bytes(s.data(), s.size());
    return s;
  }
  std::vector<float> floats() {
    std::vector<float> v(length(sizeof(float)));
    bytes(v.data(), v.size() * sizeof(float));
    return v;
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::string& data_;
  std::string path_;
  std::size_t pos_ = 0;
};

void fsync_folder(const std::filesystem::path& file) {
  auto folder = file.parent_path();
  if (folder.empty()) folder = ".";
  int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointView& view) {
  const CheckpointData& h = *view.header;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error::runtime(path, std::string("cannot create checkpoint: ") + std::strerror(errno),
                         "a writable folder that exists");
  }
  try {
    CrcWriter w(fd, path);
    w.bytes(kMagic, sizeof kMagic);
    w.pod(kCheckpointVersion);
    w.str(h.config_json);
    w.pod(h.config_hash);
    w.pod(h.input_width);
    for (std::int64_t v : {h.input.h, h.input.w, h.input.c, std::int64_t{h.input.image}}) w.pod(v);
    w.pod(h.seed);
    w.pod(h.epochs_done);
    w.pod(h.batches_done);
    w.pod(h.optimizer_steps);
    w.pod(h.epoch_loss_sum);
    w.pod(h.epoch_correct);
    w.pod(h.epoch_samples);
    w.pod(h.epoch_seconds);
    w.pod(h.best_metric);
    w.pod(h.bad_epochs);
    w.pod(h.best_epoch);
    w.pod(h.x_scale);
    w.floats(h.mean);
    w.floats(h.inv_std);
    w.floats(view.params);
    w.floats(view.optimizer_state);
    const std::uint32_t crc = static_cast<std::uint32_t>(w.crc());
    w.raw(&crc, sizeof crc);
    if (::fsync(fd) != 0) {
      throw Error::runtime(path, std::string("cannot sync checkpoint: ") + std::strerror(errno));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error::runtime(path, std::string("cannot close checkpoint: ") + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error::runtime(path, std::string("cannot rename checkpoint into place: ") + std::strerror(err));
  }
  fsync_folder(path);
}

CheckpointData read_checkpoint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error::data(path, "is a directory, not a checkpoint file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::data(path, std::string("cannot open checkpoint: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof kMagic + 4 + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw Error::data(path, "not a trainer checkpoint (bad magic)");
  }
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  const auto computed = static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  if (stored_crc != computed) {
    throw Error::data(path, "checkpoint is corrupt (CRC32 mismatch)", "a checkpoint written by trainer, unmodified");
  }
  bytes.resize(bytes.size() - 4);
  Reader r(bytes, path);
  char magic[8];
  r.bytes(magic, sizeof magic);
  const auto version = r.pod<std::uint32_t>();
  if (version != 1 && version != kCheckpointVersion) {
    throw Error::data(path, "checkpoint format version " + std::to_string(version) + " is not supported",
                      "version 1 or " + std::to_string(kCheckpointVersion));
  }
  CheckpointData d;
  d.version = version;
  d.config_json = r.str();
  d.config_hash = r.pod<std::uint64_t>();
  d.input_width = r.pod<std::int64_t>();
  d.input = SampleShape::flat(d.input_width);
  if (version >= 2) {
    d.input.h = r.pod<std::int64_t>();
    d.input.w = r.pod<std::int64_t>();
    d.input.c = r.pod<std::int64_t>();
    d.input.image = r.pod<std::int64_t>() != 0;
    std::int64_t size = 0;  // overflow-checked: the fields are untrusted
    if (d.input.h < 1 || d.input.w < 1 || d.input.c < 0 || __builtin_mul_overflow(d.input.h, d.input.w, &size) ||
        __builtin_mul_overflow(size, d.input.c, &size) || size != d.input_width)
      throw Error::data(path, "checkpoint is corrupt (its input shape does not match its input width)");
  }
  d.seed = r.pod<std::uint64_t>();
  d.epochs_done = r.pod<std::int64_t>();
  d.batches_done = r.pod<std::int64_t>();
  d.optimizer_steps = r.pod<std::int64_t>();
  d.epoch_loss_sum = r.pod<double>();
  d.epoch_correct = r.pod<std::int64_t>();
  d.epoch_samples = r.pod<std::int64_t>();
  d.epoch_seconds = r.pod<double>();
  d.best_metric = r.pod<double>();
  d.bad_epochs = r.pod<std::int64_t>();
  d.best_epoch = r.pod<std::int64_t>();
  d.x_scale = r.pod<float>();
  d.mean = r.floats();
  d.inv_std = r.floats();
  d.params = r.floats();
  d.optimizer_state = r.floats();
  if (r.pos() != bytes.size()) throw Error::data(path, "checkpoint has trailing bytes");
  return d;
}

}  // namespace trainer
