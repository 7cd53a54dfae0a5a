// The .npy header: magic, version, HEADER_LEN and the Python dict literal that follows.
//
// Only the literal grammar NumPy writes is accepted: exactly the keys 'descr', 'fortran_order'
// and 'shape', a plain dtype string, True/False, and a tuple of non-negative integers. Anything
// else (expressions, lists, extra keys, structured or object dtypes) is refused: the file is
// untrusted and nothing in it is ever evaluated.
#include <cstring>
#include <limits>
#include <string_view>

#include "trainer/error.hpp"
#include "trainer/npy.hpp"

namespace trainer {
namespace {

constexpr std::size_t kMaxDims = 32;  // NumPy's NPY_MAXDIMS
constexpr const char* kValidHeader =
    "a dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...), }";

class DictParser {
 public:
  DictParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{', "the header must start with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal("a quoted key");
      skip_space();
      expect(':', "expected ':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        if (have_descr) fail("duplicate key 'descr'");
        have_descr = true;
        if (peek() == '[') fail("structured (record) dtypes are not supported", "a plain numeric dtype");
        parse_descr(string_literal("a dtype string such as '<f4'"), h);
      } else if (key == "fortran_order") {
        if (have_order) fail("duplicate key 'fortran_order'");
        have_order = true;
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (have_shape) fail("duplicate key 'shape'");
        have_shape = true;
        h.shape = shape_tuple();
      } else {
        fail("unexpected header key '" + key + "'", "exactly the keys 'descr', 'fortran_order', 'shape'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}' in the header dict");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape) {
      std::string missing;
      if (!have_descr) missing += " 'descr'";
      if (!have_order) missing += " 'fortran_order'";
      if (!have_shape) missing += " 'shape'";
      fail("header misses key(s)" + missing, "exactly the keys 'descr', 'fortran_order', 'shape'");
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& fault, const std::string& valid = kValidHeader) const {
    throw Error::data(path_, "malformed .npy header: " + fault, valid);
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c, const std::string& fault) {
    if (peek() != c) fail(fault);
    ++pos_;
  }

  std::string string_literal(const std::string& what) {
    char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected " + what);
    std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') fail("unsupported character in a string literal");
      ++pos_;
    }
    if (pos_ >= text_.size()) fail("unterminated string literal");
    std::string value(text_.substr(start, pos_ - start));
    ++pos_;
    return value;
  }

  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("fortran_order must be True or False", "True or False");
  }

  std::int64_t dimension() {
    if (peek() == '-') fail("negative dimension in shape", "non-negative integers");
    if (peek() < '0' || peek() > '9') fail("shape must hold integer literals");
    if (peek() == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9')
      fail("integer literal with a leading zero in shape");
    std::int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      int digit = peek() - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10)
        fail("a dimension does not fit in 64 bits", "dimensions below 2^63");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long suffix written by old NumPy
    return value;
  }

  std::vector<std::int64_t> shape_tuple() {
    if (peek() != '(') fail("shape must be a tuple such as (N, F)", "a tuple of integers");
    ++pos_;
    std::vector<std::int64_t> shape;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (shape.size() == kMaxDims) fail("more than 32 dimensions");
      shape.push_back(dimension());
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
      } else if (peek() != ')') {
        fail("shape must be a tuple of integer literals", "a tuple of integers such as (5, 6)");
      }
    }
    ++pos_;
    // (5) is an int in Python, not a tuple
    if (shape.size() == 1 && !trailing_comma) fail("shape (N) is not a tuple", "(N,)");
    return shape;
  }

  void parse_descr(const std::string& descr, NpyHeader& h) {
    auto refuse = [&](const std::string& fault) {
      throw Error::data(path_, "unsupported dtype '" + descr + "': " + fault,
                        "b1, u1, u2, u4, u8, i1, i2, i4, i8, f2, f4, f8 with '<', '>', '|' or '='");
    };
    if (descr.size() < 2) refuse("too short");
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') refuse("no byte-order character");
    char code = descr[1];
    std::string size = descr.substr(2);
    if (code == 'O') refuse("object arrays hold pickled data and are never loaded");
    if (code == 'c') refuse("complex numbers are not supported");
    if (code == 'U' || code == 'S' || code == 'a' || code == 'V') refuse("strings and raw bytes are not supported");
    if (code == 'M' || code == 'm') refuse("dates and time deltas are not supported");
    static constexpr struct {
      char code;
      const char* size;
      DType dtype;
      std::uint64_t bytes;
    } kTypes[] = {{'b', "1", DType::b1, 1}, {'u', "1", DType::u1, 1}, {'u', "2", DType::u2, 2},
                  {'u', "4", DType::u4, 4}, {'u', "8", DType::u8, 8}, {'i', "1", DType::i1, 1},
                  {'i', "2", DType::i2, 2}, {'i', "4", DType::i4, 4}, {'i', "8", DType::i8, 8},
                  {'f', "2", DType::f2, 2}, {'f', "4", DType::f4, 4}, {'f', "8", DType::f8, 8}};
    for (const auto& t : kTypes) {
      if (t.code == code && size == t.size) {
        h.dtype = t.dtype;
        h.item_size = t.bytes;
        h.big_endian = order == '>' && t.bytes > 1;
        return;
      }
    }
    if (code == 'b' || code == 'u' || code == 'i' || code == 'f') refuse("no such size for this type code");
    refuse("unknown type code");
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

std::uint64_t read_le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string NpyHeader::dtype_str() const {
  static constexpr const char* kNames[] = {"b1", "u1", "u2", "u4", "u8", "i1",
                                           "i2", "i4", "i8", "f2", "f4", "f8"};
  char order = item_size == 1 ? '|' : (big_endian ? '>' : '<');
  return order + std::string(kNames[static_cast<int>(dtype)]);
}

std::string NpyHeader::version_str() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t size, const std::string& path) {
  static constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size == 0) throw Error::data(path, "empty file, not a .npy array", "a file written by numpy.save");
  if (size < 6 || std::memcmp(bytes, kMagic, 6) != 0)
    throw Error::data(path, "not a .npy file (bad magic)", "files starting with \\x93NUMPY");
  if (size < 8) throw Error::data(path, "file ends inside the .npy preamble");
  int major = bytes[6], minor = bytes[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw Error::data(path, "unknown .npy format version " + std::to_string(major) + "." + std::to_string(minor),
                      "versions 1.0, 2.0 and 3.0");
  const std::uint64_t preamble = major == 1 ? 10 : 12;
  if (size < preamble) throw Error::data(path, "file ends inside the .npy preamble");
  const std::uint64_t header_len = read_le(bytes + 8, major == 1 ? 2 : 4);
  if (header_len == 0) throw Error::data(path, "HEADER_LEN is 0: the header is empty");
  if (header_len > size - preamble)
    throw Error::data(path, "HEADER_LEN " + std::to_string(header_len) + " points past the end of the file (" +
                                std::to_string(size) + " bytes)");

  std::string_view text(reinterpret_cast<const char*>(bytes + preamble), header_len);
  NpyHeader h = DictParser(text, path).parse();
  h.major = major;
  h.minor = minor;
  h.header_len = header_len;
  h.data_offset = preamble + header_len;

  // Every product is checked: a zero dimension must not hide an overflow in the others
  // (row widths are computed from them), and count*itemsize must fit as well.
  constexpr std::uint64_t kLimit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t count = 1, nonzero = 1;
  for (std::int64_t d : h.shape) {
    const auto u = static_cast<std::uint64_t>(d);
    if (__builtin_mul_overflow(nonzero, u == 0 ? 1 : u, &nonzero) || nonzero > kLimit)
      throw Error::data(path, "shape overflows: the element count does not fit in 64 bits");
    count *= u;  // cannot overflow: |count| <= nonzero
  }
  std::uint64_t data_bytes = 0;
  if (__builtin_mul_overflow(nonzero, h.item_size, &data_bytes) || data_bytes > kLimit)
    throw Error::data(path, "shape overflows: the data size in bytes does not fit in 64 bits");
  data_bytes = count * h.item_size;
  h.count = count;
  if (data_bytes > size - h.data_offset)
    throw Error::data(path, "the shape needs " + std::to_string(data_bytes) + " data bytes from offset " +
                                std::to_string(h.data_offset) + " but the file has " + std::to_string(size) +
                                " bytes (truncated file or a header that lies about the shape)");
  return h;
}

}  // namespace trainer
