#include "trainer/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace trainer::log {
namespace {

Format g_format = Format::text;
bool g_quiet = false;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_logger_st("trainer");
    l->set_pattern("%v");
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return instance;
}

std::string stamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

void emit(spdlog::level::level_enum level, const std::string& text, const nlohmann::json* fields) {
  if (g_format == Format::text) {
    logger()->log(level, level >= spdlog::level::warn ? (level == spdlog::level::warn ? "warning: " : "error: ") + text : text);
    return;
  }
  nlohmann::json event = fields && fields->is_object() ? *fields : nlohmann::json::object();
  event["time"] = stamp();
  event["level"] = spdlog::level::to_string_view(level).data();
  event["message"] = text;
  logger()->log(level, event.dump());
}

}  // namespace

void configure(Format format, bool quiet) {
  g_format = format;
  g_quiet = quiet;
  logger()->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
}

Format format() { return g_format; }
bool quiet() { return g_quiet; }

void info(const std::string& text) { emit(spdlog::level::info, text, nullptr); }
void info(const std::string& text, const nlohmann::json& fields) { emit(spdlog::level::info, text, &fields); }
void warn(const std::string& text) { emit(spdlog::level::warn, text, nullptr); }
void warn(const std::string& text, const nlohmann::json& fields) { emit(spdlog::level::warn, text, &fields); }
void error(const std::string& text, const nlohmann::json& fields) { emit(spdlog::level::err, text, &fields); }

Progress::Progress(std::string label, std::int64_t total)
    : label_(std::move(label)), total_(total), active_(!g_quiet && g_format == Format::text && isatty(2)) {}

void Progress::update(std::int64_t done, double samples_per_second) {
  if (!active_ || total_ <= 0) return;
  using namespace std::chrono;
  const double now = duration<double>(steady_clock::now().time_since_epoch()).count();
  if (done < total_ && now - last_draw_ < 0.2) return;
  last_draw_ = now;
  const int width = 30;
  const int filled = static_cast<int>(width * done / total_);
  const double eta = samples_per_second > 0 ? static_cast<double>(total_ - done) / samples_per_second : 0;
  std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld  %.0f samples/s  ETA %.0fs ", label_.c_str(), filled,
               "==============================", width - filled, "", static_cast<long long>(done),
               static_cast<long long>(total_), samples_per_second, eta);
  std::fflush(stderr);
}

void Progress::done() {
  if (!active_) return;
  std::fprintf(stderr, "\r%*s\r", 100, "");
  std::fflush(stderr);
}

}  // namespace trainer::log
