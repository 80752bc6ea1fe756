// TFRecord data sets: shards of tf.train.Example records, each sample's input from one feature
// (an encoded image, decoded, converted and resized as an image folder's; or a fixed-length float
// list) and its class from an int64 feature. Shards named train* and test* are the two parts;
// otherwise a seeded fraction of the records is held out.
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/tensor_impl.hpp"
#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;

bool is_tfrecord_name(const std::string& name) {
  return name.find(".tfrecord") != std::string::npos || name.find(".tfrec") != std::string::npos;
}

// One sample read from a record, or why it could not be.
struct TFRecordSample {
  Tensor input;
  int64_t label = 0;
  std::string class_name;
  std::string error;
};

// `where` is "FILE: record N".
const Feature& tfrecord_feature(const Features& features, const std::string& name,
                                Feature::Kind kind, const std::string& where) {
  const auto it = features.find(name);
  if (it == features.end()) {
    std::string have;
    for (const auto& [key, value] : features) have += (have.empty() ? "" : ", ") + key;
    NABLA_CHECK(false, where, ": feature '", name,
                "' is missing (the record has: ", have.empty() ? "no features" : have, ")");
  }
  NABLA_CHECK(it->second.kind == kind, where, ": feature '", name,
              "' has the wrong type: ", feature_kind_name(it->second.kind), ", expected ",
              feature_kind_name(kind));
  return it->second;
}

TFRecordSample tfrecord_sample(std::string_view record, const std::string& where,
                               const TFRecordOptions& options, bool images) {
  TFRecordSample out;
  try {
    const Features features = decode_example(record, where);
    const TFRecordFeatureSpec& spec = options.features;
    const Feature& label = tfrecord_feature(features, spec.label, Feature::Kind::int64s, where);
    NABLA_CHECK(label.int64s.size() == 1 && label.int64s[0] >= 0, where, ": feature '", spec.label,
                "' should hold one class number >= 0, got ", label.int64s.size(), " values",
                label.int64s.empty() ? "" : detail::str(" (first ", label.int64s[0], ")"));
    out.label = label.int64s[0];
    const Shape& shape = spec.input_shape;
    if (images) {
      const Feature& image = tfrecord_feature(features, spec.input, Feature::Kind::bytes, where);
      NABLA_CHECK(image.bytes.size() == 1, where, ": feature '", spec.input,
                  "' should hold one encoded image, got ", image.bytes.size(), " values");
      out.input = resize_image(
          convert_channels(decode_image(image.bytes[0], where + ": feature '" + spec.input + "'"),
                           shape[0]),
          shape[1], shape[2]);
    } else {
      const Feature& values = tfrecord_feature(features, spec.input, Feature::Kind::floats, where);
      NABLA_CHECK(static_cast<int64_t>(values.floats.size()) == shape_numel(shape), where,
                  ": feature '", spec.input, "' holds ", values.floats.size(), " floats, expected ",
                  shape_numel(shape), " (input shape ", shape, ")");
      out.input = from_vector(values.floats, shape);
    }
    if (!spec.class_name.empty()) {
      const auto it = features.find(spec.class_name);
      if (it != features.end() && it->second.kind == Feature::Kind::bytes &&
          it->second.bytes.size() == 1) {
        out.class_name = it->second.bytes[0];
      }
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

struct TFRecordPart {
  std::vector<Tensor> inputs;
  std::vector<int64_t> labels;
};

// Samples of one shape and dtype (contiguous) stacked along a new first axis.
Tensor tfrecord_stack(const std::vector<Tensor>& samples) {
  Shape shape = samples.front().shape();
  shape.insert(shape.begin(), static_cast<int64_t>(samples.size()));
  Tensor out = empty(shape, samples.front().dtype());
  const size_t bytes =
      static_cast<size_t>(samples.front().numel()) * dtype_size(samples.front().dtype());
  auto* to = static_cast<char*>(out.raw_data());
  for (const Tensor& sample : samples) {
    std::memcpy(to, sample.contiguous().raw_data(), bytes);
    to += bytes;
  }
  return out;
}

}  // namespace

std::vector<std::string> tfrecord_files(const std::string& pattern) {
  std::vector<std::string> files;
  std::error_code error;
  const size_t comma = pattern.find(',');
  if (comma != std::string::npos && !fs::exists(pattern, error)) {
    // A list (a shell-expanded glob given to --data): each item as a pattern of its own.
    for (const std::string& item : {pattern.substr(0, comma), pattern.substr(comma + 1)}) {
      for (std::string& file : tfrecord_files(item)) files.push_back(std::move(file));
    }
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    return files;
  }
  if (fs::is_directory(pattern, error)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(pattern, error)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && is_tfrecord_name(name)) files.push_back(entry.path().string());
    }
    NABLA_CHECK(!files.empty(), "TFRecord data ", pattern, ": the folder holds no .tfrecord ",
                "files (names holding .tfrecord or .tfrec)");
  } else if (pattern.find_first_of("*?[") != std::string::npos) {
    const fs::path parent = fs::path(pattern).parent_path();
    const std::string dir = parent.empty() ? "." : parent.string();
    const std::string glob = fs::path(pattern).filename().string();
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && ::fnmatch(glob.c_str(), name.c_str(), 0) == 0) {
        files.push_back(entry.path().string());
      }
    }
    NABLA_CHECK(!files.empty(), "TFRecord data ", pattern, ": no file matches");
  } else {
    NABLA_CHECK(fs::is_regular_file(pattern, error), "TFRecord data ", pattern,
                ": no such file or folder");
    files.push_back(pattern);
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool is_tfrecord_data(const std::string& pattern) {
  std::error_code error;
  const size_t comma = pattern.find(',');
  if (comma != std::string::npos && !fs::exists(pattern, error)) {
    return is_tfrecord_data(pattern.substr(0, comma));
  }
  if (pattern.find_first_of("*?[") != std::string::npos) return is_tfrecord_name(pattern);
  if (fs::is_regular_file(pattern, error)) return is_tfrecord_name(pattern);
  if (!fs::is_directory(pattern, error)) return false;
  for (const fs::directory_entry& entry : fs::directory_iterator(pattern, error)) {
    if (entry.is_regular_file() && is_tfrecord_name(entry.path().filename().string())) return true;
  }
  return false;
}

TFRecordData load_tfrecord_data(const std::string& pattern, const TFRecordOptions& options) {
  const TFRecordFeatureSpec& spec = options.features;
  const bool images = spec.kind == "image";
  NABLA_CHECK(images || spec.kind == "floats", "TFRecord data: the input feature kind is image ",
              "or floats, got '", spec.kind, "'");
  NABLA_CHECK(!images || (spec.input_shape.size() == 3 &&
                          (spec.input_shape[0] == 1 || spec.input_shape[0] == 3)),
              "TFRecord data: images need an input shape [C, H, W] with C = 1 or 3, got ",
              spec.input_shape);
  const std::vector<std::string> files = tfrecord_files(pattern);
  // Shards named train* and test* (as nabla convert writes them) are the parts.
  const auto part_of = [](const std::string& file) {
    const std::string name = fs::path(file).filename().string();
    return name.starts_with("train") ? 0 : name.starts_with("test") ? 1 : 2;
  };
  const bool named_parts =
      std::any_of(files.begin(), files.end(), [&](auto& f) { return part_of(f) == 0; }) &&
      std::any_of(files.begin(), files.end(), [&](auto& f) { return part_of(f) == 1; });
  std::ostream& warnings = options.warnings != nullptr ? *options.warnings : std::cerr;
  TFRecordData out;
  TFRecordPart parts[2];
  std::vector<std::string> names;
  std::vector<std::pair<Tensor, int64_t>> unsplit;
  for (const std::string& file : files) {
    if (named_parts && part_of(file) == 2) continue;
    const std::vector<std::string> records = read_tfrecords(file);
    std::vector<TFRecordSample> samples(records.size());
    const auto count = static_cast<int64_t>(records.size());
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < count; ++i) {
      samples[static_cast<size_t>(i)] = tfrecord_sample(
          records[static_cast<size_t>(i)], file + ": record " + std::to_string(i), options, images);
    }
    for (TFRecordSample& sample : samples) {
      if (!sample.error.empty()) {
        NABLA_CHECK(options.skip_bad_records, sample.error,
                    " (--skip-bad-records skips bad records with a warning)");
        warnings << "nabla: warning: skipping a bad record: " << sample.error << "\n";
        ++out.skipped;
        continue;
      }
      if (!sample.class_name.empty()) {
        if (static_cast<int64_t>(names.size()) <= sample.label) names.resize(sample.label + 1);
        names[static_cast<size_t>(sample.label)] = sample.class_name;
      }
      if (named_parts) {
        TFRecordPart& part = parts[part_of(file)];
        part.inputs.push_back(sample.input);
        part.labels.push_back(sample.label);
      } else {
        unsplit.emplace_back(sample.input, sample.label);
      }
    }
  }
  if (!named_parts) {
    NABLA_CHECK(options.test_fraction > 0 && options.test_fraction < 1, "TFRecord data ", pattern,
                ": expected a test fraction in (0, 1), got ", options.test_fraction);
    Generator gen(options.seed);
    const auto n = static_cast<int64_t>(unsplit.size());
    const std::vector<int64_t> order = randperm(n, &gen).to_vector<int64_t>();
    const auto held_out =
        static_cast<int64_t>(std::llround(options.test_fraction * static_cast<double>(n)));
    for (int64_t i = 0; i < n; ++i) {
      // The held-out records in file order; the training ones in the drawn order.
      const auto& [input, label] = unsplit[static_cast<size_t>(order[i])];
      TFRecordPart& part = parts[i < held_out ? 1 : 0];
      part.inputs.push_back(input);
      part.labels.push_back(label);
    }
  }
  NABLA_CHECK(!parts[0].inputs.empty() && !parts[1].inputs.empty(), "TFRecord data ", pattern,
              ": the ", parts[0].inputs.empty() ? "training" : "test", " part holds no records (",
              parts[0].inputs.size(), " training, ", parts[1].inputs.size(), " test)");
  out.train_inputs = tfrecord_stack(parts[0].inputs);
  out.train_labels = from_vector(parts[0].labels);
  out.test_inputs = tfrecord_stack(parts[1].inputs);
  out.test_labels = from_vector(parts[1].labels);
  int64_t classes = static_cast<int64_t>(names.size());
  for (const TFRecordPart& part : parts) {
    for (int64_t label : part.labels) classes = std::max(classes, label + 1);
  }
  for (int64_t c = 0; c < classes; ++c) {
    const bool named = c < static_cast<int64_t>(names.size()) && !names[c].empty();
    out.class_names.push_back(named ? names[c] : std::to_string(c));
  }
  if (out.skipped > 0) {
    warnings << "nabla: warning: skipped " << out.skipped << " bad record"
             << (out.skipped == 1 ? "" : "s") << " in " << pattern << "\n";
  }
  return out;
}

MapFn decode_tfrecord_examples(const TFRecordFeatureSpec& features) {
  const bool images = features.kind == "image";
  NABLA_CHECK(images || features.kind == "floats", "decode_tfrecord_examples: the input feature ",
              "kind is image or floats, got '", features.kind, "'");
  NABLA_CHECK(!images || (features.input_shape.size() == 3 &&
                          (features.input_shape[0] == 1 || features.input_shape[0] == 3)),
              "decode_tfrecord_examples: images need an input shape [C, H, W] with C = 1 or 3, ",
              "got ", features.input_shape);
  TFRecordOptions options;
  options.features = features;
  return [options, images](Element element) {
    TFRecordSample sample = tfrecord_sample(element.bytes, element.name, options, images);
    NABLA_CHECK(sample.error.empty(), sample.error);
    element.input = std::move(sample.input);
    element.target = scalar_tensor(static_cast<double>(sample.label), DType::i64);
    element.bytes.clear();
    return element;
  };
}

}  // namespace nabla::data
