// nabla convert: a data set (an MNIST-layout IDX folder, an image folder, a CSV file) to TFRecord
// shards of tf.train.Example records, and TFRecord files back to an image folder, IDX or CSV
// files. The work is data::convert_to_tfrecord / convert_from_tfrecord's.
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct ConvertOptions {
  std::string from;
  std::string to;
  std::string format;
  data::TFRecordConvertOptions tfrecord;
};

void run_convert(const ConvertOptions& options) {
  const bool back = data::is_tfrecord_data(options.from);
  data::ConvertReport report;
  if (back) {
    report = data::convert_from_tfrecord(options.from, options.to,
                                         options.format.empty() ? "folder" : options.format);
  } else {
    if (!options.format.empty() && options.format != "tfrecord") {
      throw UsageError("--format " + options.format + ": " + options.from +
                       " is not TFRecord data, so it is written as TFRecord (--format tfrecord)");
    }
    report = data::convert_to_tfrecord(options.from, options.to, options.tfrecord);
  }
  std::cout << "Wrote " << report.train_records << " training and " << report.test_records
            << " test samples of " << options.from << " to " << options.to << " ("
            << (back ? report.kind : std::string("TFRecord")) << ", " << report.files.size()
            << (report.files.size() == 1 ? " file" : " files") << ")\n";
}

}  // namespace

Command add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand(
      "convert", "Write a data set as TFRecord shards of tf.train.Example records, and back");
  sub->add_option("--from", options->from,
                  "An MNIST-layout IDX folder, an image folder, a CSV file, or TFRecord files "
                  "(a file, a folder, or a quoted glob) to write back")
      ->required();
  sub->add_option("--to", options->to, "The folder to write to (created when missing)")->required();
  sub->add_option("--format", options->format,
                  "TFRecord files back as: folder (an image folder, the default), idx (the four "
                  "MNIST files) or csv (train.csv and test.csv)")
      ->check(CLI::IsMember({"tfrecord", "folder", "idx", "csv"}));
  sub->add_option("--shards", options->tfrecord.shards, "Files per part (train, test)")
      ->check(in_range<int64_t>(1, 100000))
      ->capture_default_str();
  sub->add_flag("--gzip", options->tfrecord.gzip,
                "gzip-compress the shards (.tfrecord.gz; TensorFlow's compression_type=\"GZIP\")");
  sub->add_option("--test-split", options->tfrecord.test_fraction,
                  "An image folder of class folders or a CSV file: the fraction held out as the "
                  "test part, drawn with --seed")
      ->check(in_range<double>(0, 0.99, true))
      ->capture_default_str();
  sub->add_option("--seed", options->tfrecord.seed, "Seed of the test split")
      ->check(in_range<uint64_t>(0))
      ->capture_default_str();
  sub->add_option("--label", options->tfrecord.label_column,
                  "A CSV file: the column of class numbers (default: the last)");
  sub->footer(
      "Examples:\n"
      "  nabla convert --from /usr/share/datasets/fashion-mnist --to shards --shards 4\n"
      "  nabla convert --from photos --to shards --gzip\n"
      "  nabla convert --from iris.csv --label species --to shards\n"
      "  nabla convert --from shards --to photos_again             # an image folder\n"
      "  nabla convert --from 'shards/*.tfrecord' --to mnist --format idx\n"
      "  nabla train --model cnn --data shards");
  return {sub, [options] { run_convert(*options); }};
}

}  // namespace nabla::cli
