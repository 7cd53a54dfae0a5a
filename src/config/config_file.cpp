// Where a config comes from: reading a file named by --config, choosing the default one when
// none is named, and resolving the relative paths inside it against its folder.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config_parts.hpp"
#include "trainer/error.hpp"

namespace trainer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDemoConfig = "digits-mlp.json";

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string absolute_against(const std::string& base_dir, const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  const fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

}  // namespace

namespace config_detail {

void resolve_paths(Config& c) {
  for (DataFiles* f : {&c.data.train, &c.data.validation, &c.data.test}) {
    f->x = absolute_against(c.base_dir, f->x);
    f->y = absolute_against(c.base_dir, f->y);
  }
  c.model.init_from = absolute_against(c.base_dir, c.model.init_from);
}

}  // namespace config_detail

Config load_config_file(const std::string& path) {
  const std::string valid = "a readable JSON config file, e.g. --config configs/digits-mlp.json";
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw Error::usage(path, "config file not found", valid);
  if (fs::is_directory(status)) throw Error::usage(path, "is a folder, not a config file", valid);
  // A FIFO or device would block or never end the read below.
  if (!fs::is_regular_file(status)) throw Error::usage(path, "is not a regular file", valid);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || in.bad()) throw Error::usage(path, "cannot read the config file", valid);
  const fs::path abs = fs::absolute(fs::path(path), ec);
  const std::string base_dir = (ec ? fs::path(path) : abs).lexically_normal().parent_path().string();
  return load_config_text(text.str(), path, base_dir);
}

std::string default_config_path() {
  if (is_file("trainer.json")) return "./trainer.json";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed =
        exe.parent_path().parent_path() / "share" / "trainer" / "configs" / kDemoConfig;
    if (is_file(installed)) return installed.lexically_normal().string();
  }
  const fs::path source = fs::path(TRAINER_SOURCE_DIR) / "configs" / kDemoConfig;
  if (is_file(source)) return source.string();
  throw Error::usage("--config", "no config given, no ./trainer.json, and the built-in demo "
                     "config (share/trainer/configs/digits-mlp.json) is not installed",
                     "pass --config FILE.json or create ./trainer.json");
}

}  // namespace trainer
