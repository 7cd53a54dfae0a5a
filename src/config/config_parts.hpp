// The pieces of config loading shared between the files of src/config/: the names of every
// enumerated setting (one table serves parsing, messages and to_string), the canonical JSON
// of a loaded config, and path resolution. Private to src/config/.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/config.hpp"

namespace trainer::config_detail {

using nlohmann::json;

template <class E>
using NameTable = std::vector<std::pair<std::string, E>>;

const NameTable<Activation>& activation_names();
const NameTable<Loss>& loss_names();
const NameTable<Init>& init_names();
const NameTable<Normalize>& normalize_names();
const NameTable<Layout>& layout_names();
const NameTable<LayerConfig::Type>& layer_type_names();
const NameTable<OptimizerConfig::Type>& optimizer_names();
const NameTable<ScheduleConfig::Type>& schedule_names();
const std::vector<std::string>& monitor_names();

// The name of e in its table. REQUIRES: e is listed (every enumerator is).
template <class E>
const char* name_of(const NameTable<E>& table, E e) {
  for (const auto& [name, value] : table) {
    if (value == e) return name.c_str();
  }
  return "?";
}

// Every setting with its default filled in; paths exactly as they are in `config`.
json canonical(const Config& config);

// Makes the data paths and init_from absolute against config.base_dir.
void resolve_paths(Config& config);

}  // namespace trainer::config_detail
