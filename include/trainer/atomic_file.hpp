// Writing a whole file so that readers see either the old file or the complete new one.
//
// The bytes go to a temporary file beside `path` (same folder, so the rename cannot cross file
// systems), which is fsynced and renamed over `path`; the folder is then fsynced (best effort).
// On any failure the temporary file is removed and `path` is untouched.
#pragma once

#include <string>
#include <string_view>

namespace trainer {

// Throws Error::runtime naming `path` (folder missing or read-only, disk full, `path` is a
// folder). The file gets mode 0644.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace trainer
