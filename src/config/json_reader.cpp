// Parsing with positions, and typed reads that name the JSON pointer of every value
// (see json_reader.hpp).
#include "json_reader.hpp"

#include <algorithm>
#include <cmath>

namespace trainer::config_detail {
namespace {

// nlohmann's own text starts with "[json.exception.parse_error.101] parse error at line 1,
// column 2: "; the position is reported by us, so keep only the reason after it.
std::string parse_reason(const std::string& what) {
  const auto colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// Where parsing stops, for the errors nlohmann throws without a position: a number too large
// for a double ("1e999") is an out_of_range exception, but its position reaches a SAX handler.
class ErrorLocator : public nlohmann::json_sax<json> {
 public:
  std::size_t token_start = 0;  // 0-based offset of the offending token

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& last_token, const json::exception&) override {
    token_start = position >= last_token.size() ? position - last_token.size() : 0;
    return false;
  }
};

// "source:line:col: malformed JSON: reason" for the character at 0-based `offset`.
Error malformed(const std::string& text, const std::string& source, std::size_t offset,
                const std::string& reason) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const std::size_t column = offset - line_start + 1;
  return Error::usage(source + ":" + std::to_string(line) + ":" + std::to_string(column),
                      "malformed JSON: " + reason,
                      "the config must be one JSON object; comments and trailing commas are "
                      "not allowed");
}

}  // namespace

json parse_json(const std::string& text, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte counts the characters read, the offending one included (1-based).
    throw malformed(text, source, e.byte == 0 ? 0 : e.byte - 1, parse_reason(e.what()));
  } catch (const json::exception& e) {
    // Not a syntax error but a value nlohmann refuses (a number beyond double's range):
    // still the config's fault, so exit 2 with the position found by a second, SAX pass.
    ErrorLocator locator;
    json::sax_parse(text, &locator);
    const std::string what = e.what();  // "[json.exception.out_of_range.406] number overflow ..."
    const auto bracket = what.find("] ");
    throw malformed(text, source, locator.token_start,
                    bracket == std::string::npos ? what : what.substr(bracket + 2));
  }
}

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

ObjectView::ObjectView(const json& value, std::string pointer, const std::string& source)
    : value_(value), pointer_(std::move(pointer)), source_(source) {
  if (!value_.is_object()) {
    throw Error::usage(at_key(source_, pointer_),
                       "expected an object, got " + type_name(value_), "a JSON object {...}");
  }
}

Error ObjectView::error(const std::string& key, const std::string& fault,
                        const std::string& valid) const {
  return Error::usage(at_key(source_, pointer_of(key)), fault, valid);
}

namespace {

// Names other tools use for our keys; a key close to one of them suggests our name
// ("learning_rate" and its typo "lerning_rate" both suggest `lr`).
std::string suggest_key(const std::string& key, const std::vector<std::string>& valid) {
  static const std::vector<std::pair<std::string, std::string>> aliases{
      {"learning_rate", "lr"}, {"epsilon", "eps"},     {"beta_1", "beta1"},
      {"beta_2", "beta2"},     {"num_epochs", "epochs"}, {"n_epochs", "epochs"}};
  std::vector<std::string> names = valid;
  for (const auto& [alias, target] : aliases) {
    if (std::find(valid.begin(), valid.end(), target) != valid.end()) names.push_back(alias);
  }
  const std::string best = nearest(key, names);
  for (const auto& [alias, target] : aliases) {
    if (best == alias) return target;
  }
  return best;
}

}  // namespace

void ObjectView::allow_only(const std::vector<std::string>& valid,
                            const std::string& context) const {
  for (const auto& item : value_.items()) {
    if (std::find(valid.begin(), valid.end(), item.key()) != valid.end()) continue;
    const std::string suggestion = suggest_key(item.key(), valid);
    std::string hint = suggestion.empty() ? "" : "did you mean `" + suggestion + "`? ";
    hint += "valid keys" + (context.empty() ? "" : " " + context) + ": " + list_names(valid);
    throw error(item.key(), "unknown key `" + item.key() + "`", hint);
  }
}

ObjectView ObjectView::object(const std::string& key) const {
  if (!has(key)) throw error(key, "missing required key `" + key + "`", "an object");
  return {value_.at(key), pointer_of(key), source_};
}

std::optional<ObjectView> ObjectView::optional_object(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return ObjectView(value_.at(key), pointer_of(key), source_);
}

double ObjectView::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = value_.at(key);
  if (!v.is_number()) throw error(key, "expected a number, got " + type_name(v));
  return v.get<double>();
}

std::int64_t ObjectView::integer(const std::string& key, std::int64_t fallback) const {
  if (!has(key)) return fallback;
  const json& v = value_.at(key);
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX)) {
    return v.get<std::int64_t>();
  }
  // JSON Schema counts 10.0 as an integer; so do we, so that the two agree.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<std::int64_t>(d);
    }
    throw error(key, "expected an integer, got " + v.dump());
  }
  if (v.is_number()) throw error(key, "integer " + v.dump() + " is too large");
  throw error(key, "expected an integer, got " + type_name(v));
}

bool ObjectView::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = value_.at(key);
  if (!v.is_boolean()) throw error(key, "expected a boolean, got " + type_name(v), "true or false");
  return v.get<bool>();
}

std::string ObjectView::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = value_.at(key);
  if (!v.is_string()) throw error(key, "expected a string, got " + type_name(v));
  return v.get<std::string>();
}

std::string ObjectView::required_string(const std::string& key) const {
  if (!has(key)) throw error(key, "missing required key `" + key + "`", "a string");
  std::string s = string(key, {});
  if (s.empty()) throw error(key, "must not be empty", "a file path");
  return s;
}

Error ObjectView::unknown_value(const std::string& key, const std::string& text,
                                const std::vector<std::string>& valid) const {
  const std::string suggestion = nearest(text, valid);
  std::string hint = suggestion.empty() ? "" : "did you mean `" + suggestion + "`? ";
  hint += "valid values: " + list_names(valid);
  return error(key, "unknown value `" + text + "`", hint);
}

}  // namespace trainer::config_detail
