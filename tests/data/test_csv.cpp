#include <gtest/gtest.h>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

TEST(Csv, HeaderDetectedAndValuesRead) {
  TempDir dir;
  write_bytes(dir.file("iris.csv"),
              "sepal_length,sepal_width,\"class\"\r\n5.1,3.5,0\n\n4.9, 3.0 ,1\n+6.2,-2.5e-1,2\n");
  const data::CsvTable table = data::read_csv(dir.file("iris.csv"));
  EXPECT_EQ(table.columns, (std::vector<std::string>{"sepal_length", "sepal_width", "class"}));
  EXPECT_EQ(table.values.shape(), (Shape{3, 3}));
  EXPECT_EQ(table.values.dtype(), DType::f32);
  EXPECT_EQ(table.values.to_vector<float>(),
            (std::vector<float>{5.1f, 3.5f, 0, 4.9f, 3.0f, 1, 6.2f, -0.25f, 2}));
  EXPECT_EQ(table.column_index("class"), 2);
  EXPECT_EQ(error_message([&] { table.column_index("petal"); }),
            "CsvTable: no column named \"petal\"; columns: sepal_length, sepal_width, class");
}

TEST(Csv, NoHeaderOtherDelimiterAndDtypes) {
  TempDir dir;
  write_bytes(dir.file("m.tsv"), "1\t2\n3\t4\n");
  data::CsvOptions options;
  options.delimiter = '\t';
  options.dtype = DType::i64;
  const data::CsvTable table = data::read_csv(dir.file("m.tsv"), options);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(table.values.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4}));
  options.dtype = DType::f64;
  options.header = true;  // forced: the first numeric line becomes the column names
  const data::CsvTable forced = data::read_csv(dir.file("m.tsv"), options);
  EXPECT_EQ(forced.columns, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(forced.values.to_vector<double>(), (std::vector<double>{3, 4}));
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  TempDir dir;
  write_bytes(dir.file("bad.csv"), "a,b\n1,2\n3,x7\n");
  EXPECT_EQ(error_message([&] { data::read_csv(dir.file("bad.csv")); }),
            "read_csv: " + dir.file("bad.csv") + ":3: column 2 (b): expected a number, got \"x7\"");
  write_bytes(dir.file("ragged.csv"), "1,2,3\n4,5\n");
  EXPECT_EQ(
      error_message([&] { data::read_csv(dir.file("ragged.csv")); }),
      "read_csv: " + dir.file("ragged.csv") + ":2: expected 3 fields like the first line, got 2");
  write_bytes(dir.file("frac.csv"), "1.5\n");
  data::CsvOptions integers;
  integers.dtype = DType::i64;
  EXPECT_NE(error_message([&] {
              data::read_csv(dir.file("frac.csv"), integers);
            }).find("value 1.5 in row 1, column 1 is not an integer"),
            std::string::npos);
  write_bytes(dir.file("empty.csv"), "\n\n");
  EXPECT_EQ(error_message([&] { data::read_csv(dir.file("empty.csv")); }),
            "read_csv: " + dir.file("empty.csv") + " holds no data");
  // Found by fuzz_csv: a header without rows once copied from a null buffer (UBSan).
  write_bytes(dir.file("header.csv"), "a,b\n\n");
  EXPECT_EQ(error_message([&] { data::read_csv(dir.file("header.csv")); }),
            "read_csv: " + dir.file("header.csv") + " holds a header line but no rows");
  EXPECT_EQ(error_message([&] { data::read_csv(dir.file("none.csv")); }),
            "read_csv: cannot open " + dir.file("none.csv") + ": No such file or directory");
}
