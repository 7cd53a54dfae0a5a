// Helpers for the import and npy-writer tests: scratch folders, files made in the test (plain
// or gzip'd), an independent .npy header parser (the tests must not trust the writer's own
// code to read its output), and running the built trainer binary.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/error.hpp"
#include "trainer/import.hpp"

namespace import_test {

// The error of an import expected to fail (the test fails if it succeeds).
inline trainer::Error import_error(const trainer::ImportOptions& options) {
  try {
    (void)trainer::import_data(options);
  } catch (const trainer::Error& e) {
    return e;
  }
  FAIL("the import was accepted");
  return trainer::Error::runtime("", "");
}

// A fresh folder under /tmp, removed with everything in it at scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    char name[] = "/tmp/trainer-import-test-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = name;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot gzopen " + path);
  if (!bytes.empty() && gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) <= 0) {
    throw std::runtime_error("gzwrite failed " + path);
  }
  gzclose(f);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Everything a gzip'd or plain file decompresses to, read through zlib directly.
inline std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot gzopen " + path);
  std::string out;
  char buf[65536];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(got));
  gzclose(f);
  return out;
}

struct ParsedNpy {
  int major = 0, minor = 0;
  std::size_t header_len = 0;
  std::size_t data_offset = 0;
  std::string descr;
  bool fortran_order = true;
  std::vector<std::int64_t> shape;
  std::string header_text;  // the dict and padding, as stored
  std::string data;         // the bytes after the header
};

// Parses a .npy file's bytes by the format's definition, without any project code.
inline ParsedNpy parse_npy(const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error("bad npy magic");
  ParsedNpy p;
  p.major = static_cast<unsigned char>(bytes[6]);
  p.minor = static_cast<unsigned char>(bytes[7]);
  p.header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  p.data_offset = 10 + p.header_len;
  if (bytes.size() < p.data_offset) throw std::runtime_error("npy header past the end");
  p.header_text = bytes.substr(10, p.header_len);
  std::smatch m;
  static const std::regex dict(
      R"(^\{'descr': '([^']*)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), \} *\n$)");
  if (!std::regex_match(p.header_text, m, dict)) throw std::runtime_error("unexpected npy header: " + p.header_text);
  p.descr = m[1];
  p.fortran_order = m[2] == "True";
  const std::string dims = m[3];
  static const std::regex number("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    p.shape.push_back(std::stoll(it->str()));
  }
  p.data = bytes.substr(p.data_offset);
  return p;
}

inline ParsedNpy load_npy(const std::string& path) { return parse_npy(read_file(path)); }

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs the built trainer with `args` (already shell-quoted as needed).
inline RunResult run_trainer(const std::string& args, const ScratchDir& scratch) {
  const std::string out = scratch.file("stdout.txt"), err = scratch.file("stderr.txt");
  const std::string command = std::string("'") + TRAINER_BINARY + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(command.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// A python3 that can import numpy, or "" (Debian's numpy lives under /usr/bin/python3).
inline std::string python_with_numpy() {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    const std::string command = std::string(python) + " -c 'import numpy' >/dev/null 2>&1";
    if (std::system(command.c_str()) == 0) return python;
  }
  return "";
}

// Runs `python -c script` and returns its stdout (trailing newline removed).
inline std::string python_output(const std::string& python, const std::string& script, const ScratchDir& scratch) {
  const std::string file = scratch.file("script.py"), out = scratch.file("python.txt");
  write_file(file, script);
  const std::string command = python + " '" + file + "' >'" + out + "' 2>&1";
  const int status = std::system(command.c_str());
  std::string text = read_file(out);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (status != 0) throw std::runtime_error("python failed: " + text);
  return text;
}

}  // namespace import_test
