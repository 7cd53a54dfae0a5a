// "Did you mean" for config keys and enum values: the nearest valid name by
// Damerau-Levenshtein distance (optimal string alignment), ignoring case, so that a swapped
// pair of letters or one wrong letter still finds the intended key.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "json_reader.hpp"

namespace trainer::config_detail {
namespace {

std::string folded(const std::string& s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::size_t distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string w = folded(word);
  std::string best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    const std::size_t dist = distance(w, folded(candidate));
    if (best.empty() || dist < best_distance) {
      best = candidate;
      best_distance = dist;
    }
  }
  // A third of the longer word may be wrong (at least one edit): enough for real typos
  // ("optimiser", "lerning_rate"), too little to pair unrelated short names ("bar", "lr").
  const std::size_t longer = std::max(w.size(), best.size());
  const std::size_t allowed = std::max<std::size_t>(1, longer / 3);
  return best_distance <= allowed ? best : std::string{};
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += "`" + name + "`";
  }
  return out;
}

}  // namespace trainer::config_detail
