// Pointer-tracking reads of a parsed JSON config: the layer between nlohmann::json and the
// typed settings. Every read knows the JSON pointer of the value it reads and the file it came
// from, so each refusal is an Error (exit 2) naming "file: /pointer", the fault and what would
// be valid. Private to src/config/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/error.hpp"

namespace trainer::config_detail {

using nlohmann::json;

// Parses text; a syntax error becomes Error::usage at "source:line:col".
json parse_json(const std::string& text, const std::string& source);

// The candidate nearest to `word` (Damerau-Levenshtein, case-insensitive), if close enough to
// be a plausible typo; empty otherwise.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// "`a`, `b`, `c`" for messages.
std::string list_names(const std::vector<std::string>& names);

// RFC 6901 escaping of one reference token ("a/b" -> "a~1b").
std::string pointer_token(const std::string& key);

// A JSON object and where it sits. REQUIRES: value outlives the view.
class ObjectView {
 public:
  // Refuses a value that is not an object, naming `pointer`.
  ObjectView(const json& value, std::string pointer, const std::string& source);

  const std::string& pointer() const { return pointer_; }
  const std::string& source() const { return source_; }
  std::string pointer_of(const std::string& key) const { return pointer_ + "/" + pointer_token(key); }
  Error error(const std::string& key, const std::string& fault, const std::string& valid = {}) const;

  // Refuses the first key not in `valid`, suggesting the nearest; `context` ("for sgd") is
  // added to the message when the set of keys depends on a sibling value.
  void allow_only(const std::vector<std::string>& valid, const std::string& context = {}) const;

  bool has(const std::string& key) const { return value_.contains(key); }
  const json& raw(const std::string& key) const { return value_.at(key); }

  ObjectView object(const std::string& key) const;  // required
  std::optional<ObjectView> optional_object(const std::string& key) const;

  // Optional typed reads: the default when absent, an Error on a wrong type.
  double number(const std::string& key, double fallback) const;
  std::int64_t integer(const std::string& key, std::int64_t fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  std::string required_string(const std::string& key) const;

  // A string from a fixed set, refused with the valid names and the nearest one.
  template <class E>
  E choice(const std::string& key, E fallback,
           const std::vector<std::pair<std::string, E>>& names) const {
    if (!has(key)) return fallback;
    const std::string text = string(key, {});
    std::vector<std::string> valid;
    for (const auto& [name, e] : names) {
      if (name == text) return e;
      valid.push_back(name);
    }
    throw unknown_value(key, text, valid);
  }

  Error unknown_value(const std::string& key, const std::string& text,
                      const std::vector<std::string>& valid) const;

 private:
  const json& value_;
  std::string pointer_;
  const std::string& source_;
};

// "a number", "a string", ... for "expected X, got Y" messages.
std::string type_name(const json& value);

}  // namespace trainer::config_detail
