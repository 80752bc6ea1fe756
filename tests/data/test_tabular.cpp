// The tabular column pipeline (nabla/tabular.hpp): CSV text cells, column types, standardization
// fitted on the training rows only, the out-of-vocabulary id, buckets, crosses, the row split and
// errors naming the file, line and column; least squares against NumPy.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "nabla/tabular.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

// Line 1: a count line as in scikit-learn's copy of the Boston data; line 2: the header; rows on
// lines 3..8 (line 6 empty, skipped).
constexpr const char* kTabularHouses =
    "6,4\n"
    "\"size\",\"town\",\"rooms\",\"price\"\n"
    "1.0,north,2,10\n"
    "3.0,south,3,30\n"
    "2.0,north,4,20\n"
    "\n"
    "4.0,east,5,40\n"
    "10.0,west,9,100\n";

data::TabularSpec tabular_houses_spec() {
  data::TabularSpec spec;
  spec.target = "price";
  spec.columns = {{"size", data::ColumnKind::numeric, {}, 0},
                  {"town", data::ColumnKind::categorical, {}, 0},
                  {"rooms", data::ColumnKind::bucketized, {3, 5}, 0}};
  return spec;
}

}  // namespace

TEST(Tabular, ReadsTextCellsAfterSkippedLines) {
  TempDir dir;
  write_bytes(dir.file("houses.csv"), kTabularHouses);
  const data::CsvRows table = data::read_csv_rows(dir.file("houses.csv"), 1);
  EXPECT_EQ(table.header_line, 2);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"size", "town", "rooms", "price"}));
  ASSERT_EQ(table.rows.size(), 5u);
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"3.0", "south", "3", "30"}));
  EXPECT_EQ(table.lines, (std::vector<int64_t>{3, 4, 5, 7, 8}));
  EXPECT_EQ(table.column_index("town"), 1);
  EXPECT_EQ(error_message([&] { table.column_index("age"); }),
            dir.file("houses.csv") +
                ":2: no column named \"age\" in the header; columns: size, town, rooms, price");
}

TEST(Tabular, ReadErrorsNameFileAndLine) {
  TempDir dir;
  write_bytes(dir.file("empty.csv"), "\n\n");
  EXPECT_EQ(error_message([&] { data::read_csv_rows(dir.file("empty.csv")); }),
            dir.file("empty.csv") +
                ": the file is empty; expected a header line of column names, then one line per "
                "row");
  write_bytes(dir.file("header.csv"), "a,b\n");
  EXPECT_EQ(error_message([&] { data::read_csv_rows(dir.file("header.csv")); }),
            dir.file("header.csv") + ": holds a header (line 1) but no rows");
  write_bytes(dir.file("short.csv"), "a,b\n1,2\n3\n");
  EXPECT_EQ(error_message([&] { data::read_csv_rows(dir.file("short.csv")); }),
            dir.file("short.csv") + ":3: expected 2 fields like the header (line 1), got 1");
  // Without skip_lines, the count line of the Boston file is taken as the header.
  write_bytes(dir.file("counted.csv"), "2\nx,y\n1,2\n");
  EXPECT_NE(error_message([&] { data::read_csv_rows(dir.file("counted.csv")); })
                .find("counted.csv:2: expected 1 fields like the header (line 1), got 2 (is the "
                      "first line not the header? lines before it are skipped with "
                      "\"skip_lines\")"),
            std::string::npos);
}

TEST(Tabular, StandardizesWithTheTrainingRowsOnly) {
  TempDir dir;
  write_bytes(dir.file("houses.csv"), kTabularHouses);
  const data::CsvRows table = data::read_csv_rows(dir.file("houses.csv"), 1);
  // Training rows 0..3 (sizes 1, 3, 2, 4); row 4 (size 10) is the test part and must not move the
  // mean (2.5) or the standard deviation (sqrt(1.25)).
  const auto pipeline = data::TabularPipeline::fit(table, tabular_houses_spec(), {0, 1, 2, 3});
  EXPECT_EQ(pipeline.numeric_names(), (std::vector<std::string>{"size", "rooms"}));
  EXPECT_DOUBLE_EQ(pipeline.means()[0], 2.5);
  EXPECT_DOUBLE_EQ(pipeline.stds()[0], std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(pipeline.means()[1], 3.5);
  std::ostringstream warnings;
  const data::TabularFeatures f = pipeline.transform(table, {0, 4}, &warnings);
  EXPECT_EQ(f.numeric.shape(), (Shape{2, 2}));
  const std::vector<float> numeric = f.numeric.to_vector<float>();
  EXPECT_NEAR(numeric[0], (1 - 2.5) / std::sqrt(1.25), 1e-6);
  EXPECT_NEAR(numeric[2], (10 - 2.5) / std::sqrt(1.25), 1e-6);
  EXPECT_EQ(f.target.to_vector<float>(), (std::vector<float>{10, 100}));
}

TEST(Tabular, UnseenCategoryGoesToTheOutOfVocabularyIdWithOneWarning) {
  TempDir dir;
  write_bytes(dir.file("houses.csv"), kTabularHouses);
  const data::CsvRows table = data::read_csv_rows(dir.file("houses.csv"), 1);
  const auto pipeline = data::TabularPipeline::fit(table, tabular_houses_spec(), {0, 1, 2});
  // Vocabulary of the training rows, sorted: north, south; id 0 of the column is OOV.
  ASSERT_EQ(pipeline.vocabularies().size(), 1u);
  EXPECT_EQ(pipeline.vocabularies()[0], (std::vector<std::string>{"north", "south"}));
  EXPECT_EQ(pipeline.categorical_size(), 3);
  std::ostringstream warnings;
  const data::TabularFeatures f = pipeline.transform(table, {0, 1, 3, 4}, &warnings);
  EXPECT_EQ(f.categorical.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 0, 0}));
  // east (line 7) and west (line 8) are both unseen: one warning, naming the first.
  EXPECT_EQ(warnings.str(),
            "nabla: warning: " + dir.file("houses.csv") +
                ":7: column 2 (town): category \"east\" was not in the training part; it (and any "
                "other unseen category of this column) goes to the out-of-vocabulary id\n");
}

TEST(Tabular, BucketsAndCrossesGiveWideIds) {
  TempDir dir;
  write_bytes(dir.file("houses.csv"), kTabularHouses);
  const data::CsvRows table = data::read_csv_rows(dir.file("houses.csv"), 1);
  data::TabularSpec spec = tabular_houses_spec();
  spec.crosses = {{{"town", "rooms"}, 0}, {{"town", "rooms"}, 4}};
  const auto pipeline = data::TabularPipeline::fit(table, spec, {0, 1, 2, 3, 4});
  // town: 4 categories + OOV = 5 ids; rooms: boundaries 3, 5 -> 3 buckets; the enumerated cross
  // 5 x 3 = 15 ids; the hashed one 4 ids.
  EXPECT_EQ(pipeline.wide_size(), 5 + 3 + 15 + 4);
  const data::TabularFeatures f = pipeline.transform(table, {0, 1, 2, 3, 4}, nullptr);
  EXPECT_EQ(f.wide.shape(), (Shape{5, 4}));
  const std::vector<int64_t> wide = f.wide.to_vector<int64_t>();
  // Vocabulary east, north, south, west -> ids 1..4. Rooms 2 -> bucket 0, 3 -> 1 (a boundary
  // belongs to the bucket above it), 4 -> 1, 5 -> 2, 9 -> 2.
  const int64_t town[] = {2, 3, 2, 1, 4}, rooms[] = {0, 1, 1, 2, 2};
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(wide[i * 4 + 0], town[i]) << i;
    EXPECT_EQ(wide[i * 4 + 1], 5 + rooms[i]) << i;
    EXPECT_EQ(wide[i * 4 + 2], 5 + 3 + town[i] * 3 + rooms[i]) << i;
    EXPECT_GE(wide[i * 4 + 3], 5 + 3 + 15) << i;
    EXPECT_LT(wide[i * 4 + 3], 5 + 3 + 15 + 4) << i;
  }
  // The hash depends only on the ids: the same rows hash alike in another call, in any order.
  const data::TabularFeatures again = pipeline.transform(table, {4, 0}, nullptr);
  EXPECT_EQ(again.wide.to_vector<int64_t>()[3], wide[4 * 4 + 3]);
  EXPECT_EQ(again.wide.to_vector<int64_t>()[7], wide[0 * 4 + 3]);
  spec.crosses = {{{"town", "size"}, 0}};
  EXPECT_EQ(error_message([&] {
              data::TabularPipeline::fit(table, spec, {0, 1});
            }),
            "cross of \"size\": the column is numeric; bucketize it to cross it");
}

TEST(Tabular, InfersTypesAndQuantileBuckets) {
  TempDir dir;
  write_bytes(dir.file("houses.csv"), kTabularHouses);
  const data::CsvRows table = data::read_csv_rows(dir.file("houses.csv"), 1);
  data::TabularSpec spec;
  spec.target = "price";
  spec.drop = {"rooms"};
  spec.inferred_quantiles = 2;
  const auto pipeline = data::TabularPipeline::fit(table, spec, {0, 1, 2, 3});
  ASSERT_EQ(pipeline.columns().size(), 2u);
  EXPECT_EQ(pipeline.columns()[0].kind, data::ColumnKind::bucketized);
  // Sizes 1, 2, 3, 4: the median boundary is the value at index 2 of the sorted values.
  EXPECT_EQ(pipeline.columns()[0].boundaries, (std::vector<double>{3.0}));
  EXPECT_EQ(pipeline.columns()[1].kind, data::ColumnKind::categorical);
  EXPECT_EQ(pipeline.describe(),
            "  size: bucketized, 2 buckets, standardized\n  town: categorical, 3 categories + "
            "OOV\n");
}

TEST(Tabular, InferredNumericColumnWithAFewOtherValuesIsAnError) {
  TempDir dir;
  std::string text = "size,town,price\n";
  for (int i = 0; i < 19; ++i) text += std::to_string(i) + ",t" + std::to_string(i % 2) + ",1\n";
  text += "n/a,t1,1\n";  // line 21: 19 of 20 sizes are numbers
  write_bytes(dir.file("typo.csv"), text);
  const data::CsvRows table = data::read_csv_rows(dir.file("typo.csv"));
  data::TabularSpec spec;
  spec.target = "price";
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 20; ++i) rows.push_back(i);
  EXPECT_EQ(error_message([&] { data::TabularPipeline::fit(table, spec, rows); }),
            dir.file("typo.csv") +
                ":21: column 1 (size): expected a number, got \"n/a\" (19 of 20 training values "
                "of the column are numbers, so it is taken as numeric; declare it categorical in "
                "the spec's tabular.columns to keep such values)");
  // Town (t0, t1: no numbers) is categorical; without the bad row, size is numeric.
  rows.pop_back();
  const auto pipeline = data::TabularPipeline::fit(table, spec, rows);
  EXPECT_EQ(pipeline.numeric_names(), (std::vector<std::string>{"size"}));
  EXPECT_EQ(pipeline.categorical_names(), (std::vector<std::string>{"town"}));
}

TEST(Tabular, BadValuesNameFileLineAndColumn) {
  TempDir dir;
  write_bytes(dir.file("bad.csv"), "size,town,price\n1,a,10\n2,b,20\nlarge,a,30\n3,a,\n");
  const data::CsvRows table = data::read_csv_rows(dir.file("bad.csv"));
  data::TabularSpec spec;
  spec.target = "price";
  spec.columns = {{"size", data::ColumnKind::numeric, {}, 0}};
  EXPECT_EQ(error_message([&] {
              data::TabularPipeline::fit(table, spec, {0, 1, 2});
            }),
            dir.file("bad.csv") + ":4: column 1 (size): expected a number, got \"large\"");
  const auto pipeline = data::TabularPipeline::fit(table, spec, {0, 1});
  EXPECT_EQ(error_message([&] { pipeline.transform(table, {3}, nullptr); }),
            dir.file("bad.csv") + ":5: column 3 (price): expected a number, got an empty field");
  spec.columns = {{"area", data::ColumnKind::numeric, {}, 0}};
  EXPECT_EQ(error_message([&] {
              data::TabularPipeline::fit(table, spec, {0, 1});
            }),
            dir.file("bad.csv") +
                ":1: no column named \"area\" in the header; columns: size, town, price");
  spec.columns.clear();
  spec.target = "cost";
  EXPECT_EQ(error_message([&] {
              data::TabularPipeline::fit(table, spec, {0, 1});
            }),
            dir.file("bad.csv") +
                ":1: no column named \"cost\" in the header; columns: size, town, price");
}

TEST(Tabular, SplitIsFixedBySeedAndDisjoint) {
  const data::RowSplit a = data::split_rows(506, 0.2, 3);
  const data::RowSplit b = data::split_rows(506, 0.2, 3);
  const data::RowSplit c = data::split_rows(506, 0.2, 4);
  EXPECT_EQ(a.train.size(), 405u);
  EXPECT_EQ(a.test.size(), 101u);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.train, c.train);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  all.insert(a.test.begin(), a.test.end());
  EXPECT_EQ(all.size(), 506u);
  EXPECT_EQ(*all.rbegin(), 505);
}

TEST(Tabular, LeastSquaresMatchesNumpy) {
  const nlohmann::json cases = nabla::testing::load_reference("least_squares");
  for (const auto& [name, c] : cases.items()) {
    SCOPED_TRACE(name);
    const Tensor x = nabla::testing::tensor_from_json(c["x"]);
    const Tensor y = nabla::testing::tensor_from_json(c["y"]);
    const Tensor w = data::least_squares(x, y);
    EXPECT_ALL_CLOSE(w, nabla::testing::tensor_from_json(c["w"]), 1e-6, 1e-8);
  }
  const Tensor dependent = from_vector(std::vector<double>{1, 2, 2, 4, 3, 6}, {3, 2});
  EXPECT_NE(error_message([&] {
              data::least_squares(dependent, zeros({3}, DType::f64));
            }).find("are linearly dependent (column 1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              data::least_squares(zeros({1, 2}), zeros({1}));
            }).find("needs at least as many rows as columns"),
            std::string::npos);
}
