// TFRecord data for `nabla train --stream`: the training part as a pipeline (shards interleaved,
// records decoded by worker threads), the test part loaded for evaluation.
#include <filesystem>
#include <iostream>

#include "data/pipeline_internal.hpp"
#include "nabla/error.hpp"
#include "nabla/pipeline.hpp"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;

// FNV-1a: a hash of the same bytes is the same on every platform (std::hash need not be).
uint64_t stream_fnv1a(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A record's name is "PATH: record N"; the split hashes "FILE: record N" (no folder), so that the
// same records are held out wherever the files are.
bool stream_held_out(const std::string& name, double fraction, uint64_t seed) {
  const size_t record = name.rfind(": record ");
  const size_t slash = name.rfind('/', record);
  const std::string_view key =
      std::string_view(name).substr(slash == std::string::npos ? 0 : slash + 1);
  const uint64_t draw = pipeline_internal::pipeline_seed(seed, stream_fnv1a(key));
  return static_cast<double>(draw >> 11) * 0x1.0p-53 < fraction;
}

// decode_tfrecord_examples, or (skip_bad_records) an element without input and a warning.
MapFn stream_decoder(const TFRecordOptions& options) {
  const MapFn decode = decode_tfrecord_examples(options.features);
  if (!options.skip_bad_records) return decode;
  std::ostream* warnings = options.warnings != nullptr ? options.warnings : &std::cerr;
  return [decode, warnings](Element element) {
    try {
      return decode(element);
    } catch (const Error& e) {
      // One line in one write: workers may warn at the same time.
      *warnings << std::string("nabla: warning: skipping a bad record: ") + e.what() + "\n"
                << std::flush;
      element.input = Tensor();
      element.bytes.clear();
      return element;
    }
  };
}

}  // namespace

TFRecordStreams stream_tfrecord_data(const std::string& pattern, const TFRecordOptions& options,
                                     int64_t workers) {
  const std::vector<std::string> files = tfrecord_files(pattern);
  const auto part_of = [](const std::string& file) {
    const std::string name = fs::path(file).filename().string();
    return name.starts_with("train") ? 0 : name.starts_with("test") ? 1 : 2;
  };
  std::vector<std::string> train_files, test_files;
  for (const std::string& file : files) {
    if (part_of(file) == 0) train_files.push_back(file);
    if (part_of(file) == 1) test_files.push_back(file);
  }
  const bool named_parts = !train_files.empty() && !test_files.empty();
  if (!named_parts) {
    NABLA_CHECK(options.test_fraction > 0 && options.test_fraction < 1, "TFRecord data ", pattern,
                ": expected a test fraction in (0, 1), got ", options.test_fraction);
    train_files = test_files = files;
  }
  const double fraction = options.test_fraction;
  const uint64_t seed = options.seed;
  const auto in_part = [named_parts, fraction, seed](bool test) {
    return [=](const Element& e) {
      return named_parts || stream_held_out(e.name, fraction, seed) == test;
    };
  };
  const MapFn decode = stream_decoder(options);
  const auto decoded = [](const Element& e) { return e.input.defined(); };
  TFRecordStreams out{
      Pipeline::from_files(train_files)
          .interleave([](const Element& file) { return Pipeline::from_tfrecords({file.name}); },
                      std::min<int64_t>(4, static_cast<int64_t>(train_files.size())))
          .filter(in_part(false))
          .map(decode, workers)
          .filter(decoded),
      {},
      {},
      {}};
  // The test part: its class_name features name the classes.
  std::vector<std::string> names;
  const std::string class_feature = options.features.class_name;
  const Pipeline test =
      Pipeline::from_tfrecords(test_files)
          .filter(in_part(true))
          .map([&names, class_feature, decode](Element e) {
            const Features features = decode_example(e.bytes, e.name);
            Element sample = decode(e);
            const auto it = features.find(class_feature);
            if (sample.input.defined() && it != features.end() &&
                it->second.kind == Feature::Kind::bytes && it->second.bytes.size() == 1) {
              const int64_t label = sample.target.item<int64_t>();
              if (static_cast<int64_t>(names.size()) <= label) {
                names.resize(static_cast<size_t>(label) + 1);
              }
              names[static_cast<size_t>(label)] = it->second.bytes[0];
            }
            return sample;
          })  // on this thread: `names` is not shared
          .filter(decoded);
  std::vector<Element> samples = test.collect();
  NABLA_CHECK(!samples.empty(), "TFRecord data ", pattern, ": the test part holds no records");
  const Element stacked = pipeline_internal::stack_elements(samples, false, 0, 0);
  out.test_inputs = stacked.input;
  out.test_labels = stacked.target;
  int64_t classes = static_cast<int64_t>(names.size());
  for (const int64_t label : out.test_labels.to_vector<int64_t>()) {
    classes = std::max(classes, label + 1);
  }
  for (int64_t c = 0; c < classes; ++c) {
    const bool named = c < static_cast<int64_t>(names.size()) && !names[c].empty();
    out.class_names.push_back(named ? names[c] : std::to_string(c));
  }
  return out;
}

}  // namespace nabla::data
