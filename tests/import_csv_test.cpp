// CSV import: header handling, label column choice, gzip, dtype choice, bad rows.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "import_test_support.hpp"
#include "trainer/error.hpp"
#include "trainer/import.hpp"

using trainer::CsvHeader;
using trainer::Error;
using trainer::ImportOptions;
using trainer::import_data;
using namespace import_test;

namespace {

ImportOptions csv_options(const ScratchDir& dir, const std::string& csv_text, const std::string& name = "in.csv") {
  write_file(dir.file(name), csv_text);
  ImportOptions options;
  options.input = dir.file(name);
  options.out_dir = dir.file("out");
  return options;
}

std::string u8s(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(static_cast<unsigned char>(v));
  return s;
}

// The data error's location for an import expected to fail.
std::string data_error_where(const ImportOptions& options) {
  try {
    import_data(options);
  } catch (const Error& e) {
    CHECK(e.exit_code() == 3);
    return e.where();
  }
  FAIL("no error");
  return {};
}

}  // namespace

TEST_CASE("CSV header row is auto-detected and the label column chosen by name", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "a,label,b\n1,0,2\n3,1,4\n");
  options.label_column = "label";
  const auto summary = import_data(options);
  CHECK(summary.header);
  CHECK(summary.rows == 2);
  CHECK(summary.features == 2);
  CHECK(summary.label_column == 1);
  const ParsedNpy x = load_npy(dir.file("out/x.npy"));
  const ParsedNpy y = load_npy(dir.file("out/y.npy"));
  CHECK(x.shape == std::vector<std::int64_t>{2, 2});
  CHECK(x.data == u8s({1, 2, 3, 4}));
  CHECK(y.shape == std::vector<std::int64_t>{2});
  CHECK(y.data == u8s({0, 1}));
}

TEST_CASE("CSV without header takes the label from last (default), first or an index", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "5,1,2\n6,3,4\n");
  auto summary = import_data(options);
  CHECK_FALSE(summary.header);
  CHECK(load_npy(dir.file("out/y.npy")).data == u8s({2, 4}));
  CHECK(load_npy(dir.file("out/x.npy")).data == u8s({5, 1, 6, 3}));

  options.label_column = "first";
  import_data(options);
  CHECK(load_npy(dir.file("out/y.npy")).data == u8s({5, 6}));
  CHECK(load_npy(dir.file("out/x.npy")).data == u8s({1, 2, 3, 4}));

  options.label_column = "1";
  summary = import_data(options);
  CHECK(summary.label_column == 1);
  CHECK(load_npy(dir.file("out/y.npy")).data == u8s({1, 3}));
  CHECK(load_npy(dir.file("out/x.npy")).data == u8s({5, 2, 6, 4}));
}

TEST_CASE("CSV --header and --no-header override the detection", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "7,8,9\n1,2,3\n");
  options.header = CsvHeader::present;  // a numeric first row skipped as a header
  auto summary = import_data(options);
  CHECK(summary.header);
  CHECK(summary.rows == 1);
  CHECK(load_npy(dir.file("out/x.npy")).data == u8s({1, 2}));

  options = csv_options(dir, "f1,f2,y\n1,2,3\n");
  options.header = CsvHeader::absent;  // then a text first row is a bad row
  CHECK(data_error_where(options) == options.input + ":1:1");
}

TEST_CASE("CSV gzip'd and plain inputs give identical outputs", "[import]") {
  ScratchDir dir;
  std::string text = "x1,x2,y\n";
  for (int i = 0; i < 5000; ++i) text += std::to_string(i % 97) + "," + std::to_string(i % 13) + "," + std::to_string(i % 10) + "\n";
  ImportOptions plain = csv_options(dir, text);
  plain.prefix = "plain";
  import_data(plain);
  write_gzip(dir.file("in.csv.gz"), text);
  ImportOptions gz = plain;
  gz.input = dir.file("in.csv.gz");
  gz.prefix = "gz";
  const auto summary = import_data(gz);
  CHECK(summary.rows == 5000);
  CHECK(read_file(dir.file("out/gz_x.npy")) == read_file(dir.file("out/plain_x.npy")));
  CHECK(read_file(dir.file("out/gz_y.npy")) == read_file(dir.file("out/plain_y.npy")));
  CHECK(load_npy(dir.file("out/gz_x.npy")).shape == std::vector<std::int64_t>{5000, 2});
}

TEST_CASE("CSV dtype is the smallest that holds every value exactly", "[import]") {
  struct Case {
    std::string values;  // the feature column, one value per row
    std::string descr;
  };
  const std::vector<Case> cases{
      {"0 255", "|u1"},        {"-1 127", "|i1"},      {"0 256", "<u2"},         {"-129 5", "<i2"},
      {"70000 1", "<u4"},      {"-40000 1", "<i4"},    {"5000000000 0", "<i8"},  {"-5000000000 0", "<i8"},
      {"0.5 1.25", "<f4"},     {"16777217.5 0", "<f8"}, {"0.1 1", "<f8"},        {"1e40 0.5", "<f8"},
      {"3.0 1e2", "|u1"},      {"+4 -0", "|u1"}};
  ScratchDir dir;
  for (const auto& c : cases) {
    std::string text;
    const auto space = c.values.find(' ');
    text += c.values.substr(0, space) + ",0\n" + c.values.substr(space + 1) + ",1\n";
    ImportOptions options = csv_options(dir, text);
    import_data(options);
    INFO("values " << c.values);
    CHECK(load_npy(dir.file("out/x.npy")).descr == c.descr);
  }
  // The values themselves survive in the chosen dtype.
  ImportOptions options = csv_options(dir, "-300,0.5\n2,1.25\n");
  import_data(options);
  const ParsedNpy x = load_npy(dir.file("out/x.npy"));
  const ParsedNpy y = load_npy(dir.file("out/y.npy"));
  REQUIRE(x.descr == "<i2");
  std::int16_t xs[2];
  std::memcpy(xs, x.data.data(), 4);
  CHECK(xs[0] == -300);
  CHECK(xs[1] == 2);
  REQUIRE(y.descr == "<f4");
  float ys[2];
  std::memcpy(ys, y.data.data(), 8);
  CHECK(ys[0] == 0.5f);
  CHECK(ys[1] == 1.25f);
}

TEST_CASE("CSV bad rows name file:line:column and write nothing", "[import]") {
  ScratchDir dir;
  // Line numbers count every physical line, blank ones too.
  ImportOptions options = csv_options(dir, "1,2,3\n\n4,5\n");
  CHECK(data_error_where(options) == options.input + ":3:3");
  options = csv_options(dir, "1,2,3\n4,5,6,7\n");
  CHECK(data_error_where(options) == options.input + ":2:4");
  options = csv_options(dir, "a,b,c\n1,2,3\n4,x,6\n");
  CHECK(data_error_where(options) == options.input + ":3:2");
  options = csv_options(dir, "1,2,3\n4,,6\n");
  CHECK(data_error_where(options) == options.input + ":2:2");
  options = csv_options(dir, "1,2,3\n4,nan,6\n");
  CHECK(data_error_where(options) == options.input + ":2:2");
  options = csv_options(dir, "1,2,3\n4,5,inf\n");
  CHECK(data_error_where(options) == options.input + ":2:3");
  CHECK_FALSE(std::filesystem::exists(dir.file("out/x.npy")));
  CHECK_FALSE(std::filesystem::exists(dir.file("out/y.npy")));
}

TEST_CASE("CSV empty or header-only files are data errors", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "");
  CHECK(data_error_where(options) == options.input);
  options = csv_options(dir, "\n  \n");
  CHECK(data_error_where(options) == options.input);
  options = csv_options(dir, "a,b,c\n");
  CHECK(data_error_where(options) == options.input);
}

TEST_CASE("CSV simple double quoting within a line, and a quote left open is refused", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "\"size, cm\",\"say \"\"hi\"\"\",class\r\n\"1.5\", 2 ,\"3\"\r\n");
  options.label_column = "say \"hi\"";
  const auto summary = import_data(options);
  CHECK(summary.label_column == 1);
  const ParsedNpy x = load_npy(dir.file("out/x.npy"));
  REQUIRE(x.descr == "<f4");
  float xs[2];
  std::memcpy(xs, x.data.data(), 8);
  CHECK(xs[0] == 1.5f);
  CHECK(xs[1] == 3.0f);
  CHECK(load_npy(dir.file("out/y.npy")).data == u8s({2}));

  options = csv_options(dir, "1,2,3\n4,\"5,6\n");
  CHECK(data_error_where(options) == options.input + ":2:2");
}

TEST_CASE("CSV other delimiters: semicolon and tab", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "1;2;3\n4;5;6\n");
  options.delimiter = ';';
  import_data(options);
  CHECK(load_npy(dir.file("out/x.npy")).data == u8s({1, 2, 4, 5}));
  options = csv_options(dir, "1\t2\t3\n4\t5\t6\n");
  options.delimiter = '\t';
  import_data(options);
  CHECK(load_npy(dir.file("out/y.npy")).data == u8s({3, 6}));
}

TEST_CASE("CSV label column errors are usage errors naming --label-column", "[import]") {
  ScratchDir dir;
  for (const std::string spec : {"nope", "3"}) {
    ImportOptions options = csv_options(dir, spec == "nope" ? "a,b,c\n1,2,3\n" : "1,2,3\n");
    options.label_column = spec;
    try {
      import_data(options);
      FAIL("no error for " << spec);
    } catch (const Error& e) {
      CHECK(e.exit_code() == 2);
      CHECK(e.where() == "--label-column");
    }
  }
  ImportOptions options = csv_options(dir, "1,2,3\n");
  options.label_column = "label";  // a name, but there is no header
  CHECK_THROWS_WITH(import_data(options), Catch::Contains("no header"));
}

TEST_CASE("split-test writes train and test files in file order and prefix renames the files", "[import]") {
  ScratchDir dir;
  ImportOptions options = csv_options(dir, "1,0\n2,1\n3,0\n4,1\n5,0\n");
  options.split_test = 2;
  const auto summary = import_data(options);
  REQUIRE(summary.files.size() == 4);
  CHECK(load_npy(dir.file("out/train_x.npy")).data == u8s({1, 2, 3}));
  CHECK(load_npy(dir.file("out/train_y.npy")).data == u8s({0, 1, 0}));
  CHECK(load_npy(dir.file("out/test_x.npy")).data == u8s({4, 5}));
  CHECK(load_npy(dir.file("out/test_y.npy")).shape == std::vector<std::int64_t>{2});
  options.split_test = 5;  // nothing left to train on
  CHECK_THROWS_WITH(import_data(options), Catch::Contains("--split-test"));
  options.split_test = 0;
  options.prefix = "val";
  import_data(options);
  CHECK(load_npy(dir.file("out/val_x.npy")).shape == std::vector<std::int64_t>{5, 1});
}

TEST_CASE("trainer import CLI: bad row exits 3 with line:col, --json summary, missing --out folder is created", "[import]") {
  ScratchDir dir;
  write_file(dir.file("bad.csv"), "1,2,3\n4,5,x\n");
  RunResult r = run_trainer("import '" + dir.file("bad.csv") + "' --out '" + dir.file("o") + "'", dir);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(dir.file("bad.csv") + ":2:3") != std::string::npos);

  write_file(dir.file("good.csv"), "h1,h2,y\n1,2,3\n4,5,6\n");
  r = run_trainer("import '" + dir.file("good.csv") + "' --out '" + dir.file("new/deep") + "' --json", dir);
  REQUIRE(r.exit_code == 0);
  const auto json = nlohmann::json::parse(r.out);
  CHECK(json.at("rows") == 2);
  CHECK(json.at("features") == 2);
  CHECK(json.at("header") == true);
  CHECK(json.at("files").at(0).at("path") == dir.file("new/deep/x.npy"));
  CHECK(json.at("files").at(0).at("dtype") == "|u1");
  CHECK(json.at("files").at(0).at("shape") == nlohmann::json::array({2, 2}));
  CHECK(std::filesystem::exists(dir.file("new/deep/y.npy")));

  r = run_trainer("import '" + dir.file("good.csv") + "' --out '" + dir.file("o2") + "' --label-column h1", dir);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("2 rows, 2 features") != std::string::npos);
  r = run_trainer("import '" + dir.file("good.csv") + "' --out '" + dir.file("o3") + "' --format xml", dir);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--format") != std::string::npos);
}
