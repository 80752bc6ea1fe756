// Wide&Deep on the Boston house prices, as TensorFlow's "Wide & Deep Learning" tutorial and the
// Keras "structured data" examples do it: the tabular column pipeline (numeric columns
// standardized on the training part, categorical columns as vocabularies, bucketized columns and
// a cross), the closed-form least-squares baseline on the same split, then the wide_deep task
// trained from C++ as `nabla train --model wide_deep` trains it.
//
// Usage: wide_deep [EPOCHS [SEED]] (default: the preset's 200 epochs, seed 0).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>
#include <sstream>

using namespace nabla;

int main(int argc, char** argv) try {
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
  // scikit-learn's copy opens with a line of counts ("506,13") above the header: skip it.
  const data::CsvRows table = data::read_csv_rows(
      "/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv", 1);
  const data::RowSplit split = data::split_rows(std::ssize(table.rows), 0.2, seed);

  data::TabularSpec spec;
  spec.target = "MEDV";
  spec.columns = {{"CRIM", data::ColumnKind::numeric, {}, 0},
                  {"RM", data::ColumnKind::bucketized, {5.5, 6.0, 6.5, 7.0, 7.5}, 0},
                  {"LSTAT", data::ColumnKind::bucketized, {5, 10, 15, 20, 25}, 0},
                  {"PTRATIO", data::ColumnKind::numeric, {}, 0},
                  {"RAD", data::ColumnKind::categorical, {}, 0},
                  {"CHAS", data::ColumnKind::categorical, {}, 0}};
  spec.crosses = {{{"RM", "LSTAT"}, 0}};
  const auto pipeline = data::TabularPipeline::fit(table, spec, split.train);  // training rows only
  std::cout << "columns:\n" << pipeline.describe();
  const data::TabularFeatures train = pipeline.transform(table, split.train, &std::cerr);
  const data::TabularFeatures test = pipeline.transform(table, split.test, &std::cerr);

  // Least squares on an intercept and the standardized numeric columns of these six.
  auto design = [](const data::TabularFeatures& f) {
    return concat({ones({f.numeric.shape()[0], 1}), f.numeric}, 1);
  };
  const Tensor w = data::least_squares(design(train), train.target);
  const Tensor predicted = matmul(design(test).to(DType::f64), reshape(w, {-1, 1}));
  const Tensor error = sub(reshape(predicted, {-1}), test.target.to(DType::f64));
  std::printf("least squares on 4 numeric columns: test RMSE %.3f\n",
              std::sqrt(mean(square(error)).item()));

  // The full preset (12 columns, four crosses), trained jointly: Adagrad (wide), Adam (deep).
  tasks::RunOptions options;
  options.seed = seed;
  options.verbose = 0;
  std::ostringstream task_log;  // what each run says it trains: the columns printed above
  options.log = &task_log;
  if (argc > 1) options.epochs = std::atoll(argv[1]);
  for (const char* preset : {"wide", "deep", "wide_deep"}) {
    const tasks::RunResult result = tasks::run(preset, options);
    std::printf("%-9s test RMSE %.3f (least squares on the same split and features: %.3f)\n",
                preset, result.figures[0].value, result.figures[1].value);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "wide_deep: " << e.what() << "\n";
  return 1;
}
