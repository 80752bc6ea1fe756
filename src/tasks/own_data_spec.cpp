// A spec adapted to data of one's own given as --data: an image folder or TFRecord shards. The
// preset's input shape follows the image size and channels (or the float list's length), its last
// layer the number of classes, and a "data" section records how the data is split and read, so
// that the checkpoint's spec reads the same samples again (evaluate, predict, report).
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

// More classes than any classifier here has: a label beyond is a mistake, not a class.
constexpr int64_t kMaxOwnDataClasses = 100000;

// [C, H, W] from the color and size options, else the spec's own (a spec already adapted keeps
// its channels).
Shape own_data_image_shape(const io::ModelSpec& spec, const RunOptions& options,
                           bool adapted_before) {
  NABLA_CHECK(options.color.empty() || options.color == "rgb" || options.color == "grayscale",
              "--color: expected rgb or grayscale, got '", options.color, "'");
  const Shape& given = spec.input_shape;
  int64_t channels = options.color == "grayscale" ? 1 : 3;
  if (options.color.empty() && adapted_before && given.size() == 3) channels = given[0];
  int64_t height = given.size() >= 2 ? given[given.size() - 2] : 0;
  int64_t width = given.size() >= 2 ? given[given.size() - 1] : 0;
  if (options.image_size) std::tie(height, width) = *options.image_size;
  NABLA_CHECK(height > 0 && width > 0, "model ", spec.name, ": give the size images are resized ",
              "to with --image-size, e.g. 64x64 (the model has no image input shape)");
  return {channels, height, width};
}

// The first record's features and the number of classes (the largest label + 1) of TFRecord
// data. Errors name the file and record.
std::pair<data::Features, int64_t> own_data_tfrecord_summary(const std::string& pattern,
                                                             const std::string& label) {
  data::Features first;
  int64_t classes = 0;
  for (const std::string& file : data::tfrecord_files(pattern)) {
    const std::vector<std::string> records = data::read_tfrecords(file);
    for (size_t i = 0; i < records.size(); ++i) {
      data::Features features =
          data::decode_example(records[i], file + ": record " + std::to_string(i));
      // Labels that are not one class number are left to the reader, which names them.
      const auto it = features.find(label);
      if (it != features.end() && it->second.kind == data::Feature::Kind::int64s &&
          it->second.int64s.size() == 1 && it->second.int64s[0] >= 0) {
        const int64_t value = it->second.int64s[0];
        NABLA_CHECK(value < kMaxOwnDataClasses, file, ": record ", i, ": feature '", label,
                    "' holds class ", value, "; expected class numbers below ", kMaxOwnDataClasses);
        classes = std::max(classes, value + 1);
      }
      if (first.empty()) first = std::move(features);
    }
  }
  NABLA_CHECK(!first.empty(), "TFRecord data ", pattern, ": no records");
  return {first, classes};
}

}  // namespace

io::ModelSpec adapt_spec_to_data(const io::ModelSpec& spec, const RunOptions& options) {
  const bool image_options = options.image_size || !options.color.empty() || options.test_split ||
                             options.skip_bad_records;
  const bool feature_options = !options.input_feature.empty() || !options.label_feature.empty();
  const std::string task = task_name_for(spec);
  const bool classifier = task == "images" || task == "image_folder" || task == "tfrecord";
  const bool folder =
      classifier && !options.data_dir.empty() && data::is_image_folder(options.data_dir);
  const bool records = classifier && !folder && !options.data_dir.empty() &&
                       data::is_tfrecord_data(options.data_dir);
  if (!folder && !records) {
    NABLA_CHECK(!options.stream, "--stream applies to TFRecord files (--data: a file, a folder ",
                "of them or a glob) and an image model; ",
                options.data_dir.empty() ? std::string("no --data was given")
                                         : options.data_dir + " holds none");
    NABLA_CHECK(!image_options && !feature_options,
                "--image-size, --color, --test-split, --skip-bad-records, --input-feature and ",
                "--label-feature apply to data of one's own (--data: an image folder or TFRecord ",
                "files) and an image model; ",
                options.data_dir.empty() ? std::string("no --data was given")
                                         : options.data_dir + " is neither",
                classifier ? "" : " (the model's task is " + task + ")");
    return spec;
  }
  NABLA_CHECK(!folder || !feature_options, "--input-feature and --label-feature apply to ",
              "TFRecord files; ", options.data_dir, " is an image folder");
  NABLA_CHECK(!folder || !options.stream, "--stream applies to TFRecord files; ", options.data_dir,
              " is an image folder (convert it with nabla convert)");
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(spec.json);
  NABLA_CHECK(!json.contains("inputs"), "model ", spec.name, ": data of one's own trains a ",
              "sequential model (\"layers\" with \"input_shape\"); a graph model takes its data ",
              "from its own task");
  const std::string type = folder ? "image_folder" : "tfrecord";
  const bool adapted_before = spec.data && spec.data->type == type;
  nlohmann::ordered_json section = {{"type", type}};
  int64_t classes = 0;
  if (folder) {
    json["input_shape"] = own_data_image_shape(spec, options, adapted_before);
    classes = static_cast<int64_t>(data::image_folder_classes(options.data_dir).size());
  } else {
    const std::string label = !options.label_feature.empty() ? options.label_feature
                              : adapted_before               ? spec.data->label_feature
                                                             : "label";
    const auto [first, count] = own_data_tfrecord_summary(options.data_dir, label);
    classes = count;
    std::string input = options.input_feature;
    if (input.empty() && adapted_before) input = spec.data->input_feature;
    if (input.empty()) input = first.count("image") != 0 ? "image" : "features";
    const auto it = first.find(input);
    NABLA_CHECK(it != first.end(), "TFRecord data ", options.data_dir, ": the first record has ",
                "no feature '", input, "'; name the input with --input-feature");
    NABLA_CHECK(it->second.kind != data::Feature::Kind::int64s, "TFRecord data ", options.data_dir,
                ": the input feature '", input, "' is an int64_list; expected ",
                "encoded images (bytes_list) or a float_list");
    const bool image = it->second.kind == data::Feature::Kind::bytes;
    json["input_shape"] = image ? own_data_image_shape(spec, options, adapted_before)
                                : Shape{static_cast<int64_t>(it->second.floats.size())};
    section["input_kind"] = image ? "image" : "floats";
    section["input_feature"] = input;
    section["label_feature"] = label;
    NABLA_CHECK(classes > 0, "TFRecord data ", options.data_dir, ": no record has an int64 ",
                "feature '", label, "'; name the label with --label-feature");
  }
  json.erase("task");
  section["test_fraction"] = adapted_before ? spec.data->test_fraction : 0.2;
  section["seed"] = adapted_before ? spec.data->seed : options.seed;
  section["skip_bad_records"] = adapted_before && spec.data->skip_bad_records;
  if (options.test_split) section["test_fraction"] = *options.test_split;
  if (options.skip_bad_records) section["skip_bad_records"] = true;
  if (records) {
    // Streamed on request, or when the files would not fit comfortably in memory.
    int64_t bytes = 0;
    for (const std::string& file : data::tfrecord_files(options.data_dir)) {
      bytes += static_cast<int64_t>(std::filesystem::file_size(file));
    }
    if (options.stream || bytes > kStreamTFRecordBytes || (adapted_before && spec.data->stream)) {
      section["stream"] = true;
    }
  }
  json["data"] = section;
  // A classifier's head: as many units as classes (a preset's 10 are Fashion-MNIST's).
  nlohmann::ordered_json& last = json["layers"].back();
  if (last.is_object() && last.contains("units")) last["units"] = classes;
  return io::parse_model_spec(json.dump(2) + "\n", spec.name);
}

}  // namespace nabla::tasks
