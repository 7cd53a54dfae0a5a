// Logging for humans (text on stderr) or machines (one JSON object per line on stderr).
//
// Every message is an event with a short text and optional structured fields; in text mode the
// text is printed, in JSON mode {"time", "level", "message", ...fields}. Built on spdlog.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace trainer::log {

enum class Format { text, json };

// Called once by main: text or json, and whether info-level messages are shown.
void configure(Format format, bool quiet);
Format format();
bool quiet();

void info(const std::string& text);
void info(const std::string& text, const nlohmann::json& fields);
void warn(const std::string& text);
void warn(const std::string& text, const nlohmann::json& fields);
void error(const std::string& text, const nlohmann::json& fields);

// A transient progress line ("\r...") on a terminal; no-op unless stderr is a TTY, the format
// is text and not quiet. done() clears the line.
class Progress {
 public:
  Progress(std::string label, std::int64_t total);
  void update(std::int64_t done, double samples_per_second);
  void done();

 private:
  std::string label_;
  std::int64_t total_;
  bool active_;
  double last_draw_ = -1;
};

}  // namespace trainer::log
