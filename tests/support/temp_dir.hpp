// A fresh temporary folder for one test, removed when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace trainer::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `path`.
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

// Runs a shell command, capturing stdout (and stderr when merge_stderr); returns the exit code.
struct RunResult {
  int exit_code = -1;
  std::string out;
};
RunResult run_command(const std::string& command, bool merge_stderr = true);

}  // namespace trainer::test
