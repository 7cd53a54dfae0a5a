// CSV → x.npy / y.npy in two streaming passes (see import.hpp for why two).
//
// Accepted: one record per line ('\n' or "\r\n"), a one-character delimiter, fields that are
// decimal numbers (optional sign, fraction, exponent) with surrounding spaces ignored, and
// simple double quoting ("1.5", "a, b", "say ""hi""") within one line. Blank lines are skipped.
// Refused with file:line:column: a quoted field spanning lines, a field that is not a finite
// number (empty, "NA", "nan", "inf"), a row with a different number of fields than the first.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "gzip_reader.hpp"
#include "import_detail.hpp"
#include "trainer/error.hpp"

namespace trainer::import_detail {
namespace {

struct Field {
  std::string text;
  bool quoted = false;
};

std::string where(const std::string& path, std::int64_t line, std::size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// Splits one line into fields. Returns 0 on success, else the 1-based field number at fault
// (with `fault` set).
std::size_t split_fields(std::string_view line, char delimiter, std::vector<Field>& fields, std::string& fault) {
  fields.clear();
  std::size_t i = 0;
  for (;;) {
    Field field;
    while (i < line.size() && line[i] == ' ' && delimiter != ' ') ++i;
    if (i < line.size() && line[i] == '"') {
      field.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.text += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field.text += line[i++];
      }
      if (!closed) {
        fault = "unterminated quote (a quoted field must end on the same line)";
        return fields.size() + 1;
      }
      while (i < line.size() && line[i] == ' ' && delimiter != ' ') ++i;
      if (i < line.size() && line[i] != delimiter) {
        fault = "text after a closing quote";
        return fields.size() + 1;
      }
    } else {
      const std::size_t end = std::min(line.find(delimiter, i), line.size());
      field.text.assign(line.substr(i, end - i));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return 0;
    ++i;  // past the delimiter; a trailing delimiter means a last, empty field
    if (i == line.size()) {
      fields.emplace_back();
      return 0;
    }
  }
}

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

struct Number {
  bool integral = false;
  std::int64_t i = 0;  // when integral
  double d = 0;        // always
};

// Parses a decimal number exactly: integers through int64 (no rounding), others through double.
bool parse_number(std::string_view text, Number& out, bool& non_finite) {
  non_finite = false;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return false;
  }
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = first + text.size();
  std::int64_t i = 0;
  auto r = std::from_chars(first, last, i);
  if (r.ec == std::errc() && r.ptr == last) {
    out = {true, i, static_cast<double>(i)};
    return true;
  }
  double d = 0;
  r = std::from_chars(first, last, d, std::chars_format::general);
  if (r.ec != std::errc() || r.ptr != last) return false;
  if (!std::isfinite(d)) {
    non_finite = true;
    return false;
  }
  constexpr double two63 = 9223372036854775808.0;
  if (d == std::floor(d) && d >= -two63 && d < two63) {
    out = {true, static_cast<std::int64_t>(d), d};
  } else {
    out = {false, 0, d};
  }
  return true;
}

// Tracks what every value of one output needs, to pick the smallest exact dtype.
struct Range {
  bool any = false;
  bool integral = true;
  bool f4_exact = true;
  std::int64_t min = 0, max = 0;

  void add(const Number& n) {
    if (n.integral) {
      min = any ? std::min(min, n.i) : n.i;
      max = any ? std::max(max, n.i) : n.i;
    } else {
      integral = false;
    }
    any = true;
    // The range test first: converting a double beyond float's range is undefined behaviour.
    if (f4_exact && (std::fabs(n.d) > std::numeric_limits<float>::max() ||
                     static_cast<double>(static_cast<float>(n.d)) != n.d)) {
      f4_exact = false;
    }
  }

  DType dtype() const {
    if (!integral) return f4_exact ? DType::f4 : DType::f8;
    if (min >= 0) {
      if (max <= 0xff) return DType::u1;
      if (max <= 0xffff) return DType::u2;
      if (max <= 0xffffffffLL) return DType::u4;
      return DType::i8;
    }
    if (min >= -128 && max <= 127) return DType::i1;
    if (min >= -32768 && max <= 32767) return DType::i2;
    if (min >= std::numeric_limits<std::int32_t>::min() && max <= std::numeric_limits<std::int32_t>::max()) {
      return DType::i4;
    }
    return DType::i8;
  }
};

template <typename T>
void put(unsigned char* dst, std::size_t index, T value) {
  std::memcpy(dst + index * sizeof(T), &value, sizeof(T));
}

// Stores n (known to fit exactly, by pass 1) as element `index` of a row of dtype.
void store(DType dtype, unsigned char* dst, std::size_t index, const Number& n) {
  switch (dtype) {
    case DType::u1: put(dst, index, static_cast<std::uint8_t>(n.i)); break;
    case DType::u2: put(dst, index, static_cast<std::uint16_t>(n.i)); break;
    case DType::u4: put(dst, index, static_cast<std::uint32_t>(n.i)); break;
    case DType::i1: put(dst, index, static_cast<std::int8_t>(n.i)); break;
    case DType::i2: put(dst, index, static_cast<std::int16_t>(n.i)); break;
    case DType::i4: put(dst, index, static_cast<std::int32_t>(n.i)); break;
    case DType::i8: put(dst, index, n.i); break;
    case DType::f4: put(dst, index, static_cast<float>(n.d)); break;
    case DType::f8: put(dst, index, n.d); break;
    default: throw Error::runtime("csv import", "unexpected output dtype");
  }
}

// Resolves --label-column against the first row (header names when there is a header).
std::size_t resolve_label_column(const ImportOptions& options, const std::vector<Field>& first, bool header) {
  const std::string& spec = options.label_column;
  const std::size_t columns = first.size();
  const std::string valid = "last, first, an index 0.." + std::to_string(columns - 1) +
                            (header ? " or a header name" : "");
  if (spec.empty() || spec == "last") return columns - 1;
  if (spec == "first") return 0;
  if (std::all_of(spec.begin(), spec.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::size_t index = 0;
    const auto r = std::from_chars(spec.data(), spec.data() + spec.size(), index);
    if (r.ec != std::errc() || index >= columns) {
      throw Error::usage("--label-column", "index " + spec + " is past the " + std::to_string(columns) +
                         " columns of " + options.input, valid);
    }
    return index;
  }
  if (!header) {
    throw Error::usage("--label-column", "'" + spec + "' is a name but " + options.input + " has no header row",
                       "last, first or an index 0.." + std::to_string(columns - 1) + " (or --header)");
  }
  for (std::size_t c = 0; c < columns; ++c) {
    std::string_view name = first[c].text;
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name == spec) return c;
  }
  std::string names;
  for (std::size_t c = 0; c < columns && c < 12; ++c) names += (c ? ", " : "") + first[c].text;
  if (columns > 12) names += ", ...";
  throw Error::usage("--label-column", "no column named '" + spec + "' in " + options.input,
                     "one of: " + names + "; or last, first, an index");
}

// Walks the data rows of the file, calling on_row(line_number, fields) for each.
class CsvWalker {
 public:
  CsvWalker(GzipReader& reader, char delimiter) : reader_(reader), delimiter_(delimiter) {}

  // Next non-blank line split into fields; false at end of file.
  bool next(std::vector<Field>& fields) {
    while (reader_.read_line(line_)) {
      ++line_number_;
      if (blank(line_)) continue;
      std::string fault;
      const std::size_t column = split_fields(line_, delimiter_, fields, fault);
      if (column != 0) throw Error::data(where(reader_.path(), line_number_, column), fault);
      return true;
    }
    return false;
  }
  std::int64_t line() const { return line_number_; }

 private:
  GzipReader& reader_;
  char delimiter_;
  std::string line_;
  std::int64_t line_number_ = 0;
};

}  // namespace

ImportSummary import_csv(const ImportOptions& options) {
  const std::string& path = options.input;
  if (options.delimiter == '"' || options.delimiter == '\n' || options.delimiter == '\r') {
    throw Error::usage("--delimiter", "cannot be a quote or a line break", "one character such as , ; | or \\t");
  }
  GzipReader reader(path);
  std::vector<Field> fields;

  // Pass 1: shape, label column, validation, and the dtype ranges.
  CsvWalker walker(reader, options.delimiter);
  if (!walker.next(fields)) throw Error::data(path, "empty file: no rows", "a CSV file with at least one data row");
  const std::size_t columns = fields.size();
  if (columns < 2) {
    throw Error::data(where(path, walker.line(), 1), "only one column, so no features besides the label",
                      "at least two columns (features and a label)");
  }
  bool header = options.header == CsvHeader::present;
  if (options.header == CsvHeader::auto_detect) {
    Number n;
    bool non_finite = false;
    header = std::any_of(fields.begin(), fields.end(),
                         [&](const Field& f) { return !parse_number(f.text, n, non_finite) && !non_finite; });
  }
  const std::size_t label = resolve_label_column(options, fields, header);

  Range x_range, y_range;
  std::int64_t rows = 0;
  auto check_row = [&](const std::vector<Field>& row, std::int64_t line, auto&& on_value) {
    if (row.size() != columns) {
      const std::size_t column = std::min(row.size(), columns) + 1;
      throw Error::data(where(path, line, column),
                        "row has " + std::to_string(row.size()) + " fields, expected " + std::to_string(columns),
                        "the same number of fields as the first row");
    }
    for (std::size_t c = 0; c < columns; ++c) {
      Number n;
      bool non_finite = false;
      if (!parse_number(row[c].text, n, non_finite)) {
        const std::string shown = row[c].text.size() > 40 ? row[c].text.substr(0, 40) + "..." : row[c].text;
        throw Error::data(where(path, line, c + 1),
                          non_finite ? "'" + shown + "' is not a finite number"
                                     : (shown.empty() ? std::string("empty field") : "'" + shown + "' is not a number"),
                          "a decimal number such as 3, -0.5 or 1e-3");
      }
      on_value(c, n);
    }
  };
  auto track = [&](std::size_t c, const Number& n) { (c == label ? y_range : x_range).add(n); };
  if (!header) {
    check_row(fields, walker.line(), track);
    ++rows;
  }
  while (walker.next(fields)) {
    check_row(fields, walker.line(), track);
    ++rows;
  }
  if (rows == 0) throw Error::data(path, "no data rows after the header row", "at least one data row");

  // Pass 2: convert and write.
  ImportSummary summary;
  summary.format = ImportFormat::csv;
  summary.rows = rows;
  summary.features = static_cast<std::int64_t>(columns - 1);
  summary.header = header;
  summary.label_column = static_cast<std::int64_t>(label);
  const DType x_dtype = x_range.dtype();
  const DType y_dtype = y_range.dtype();
  OutputSet outputs(options, rows, x_dtype, {summary.features}, true, y_dtype, {});
  std::vector<unsigned char> x_row(columns * 8), y_row(8);
  reader.rewind();
  CsvWalker again(reader, options.delimiter);
  if (header) again.next(fields);
  std::int64_t row = 0;
  while (again.next(fields)) {
    if (row == rows) throw Error::data(path, "the file grew between the two passes", "a file that is not being written");
    check_row(fields, again.line(), [&](std::size_t c, const Number& n) {
      if (c == label) {
        store(y_dtype, y_row.data(), 0, n);
      } else {
        store(x_dtype, x_row.data(), c < label ? c : c - 1, n);
      }
    });
    outputs.append(row++, x_row.data(), y_row.data());
  }
  if (row != rows) throw Error::data(path, "the file shrank between the two passes", "a file that is not being written");
  outputs.finish(summary);
  return summary;
}

}  // namespace trainer::import_detail
