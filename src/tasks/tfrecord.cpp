// Task "tfrecord": classification on TFRecord shards of tf.train.Example records
// (data::load_tfrecord_data). The spec's "data" section names the features ("input_kind": image
// or floats, "input_feature", "label_feature") and the split; the model's input shape says how an
// image is read (channels, height, width) or how many floats a sample holds.
#include <thread>

#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

class TFRecordTask : public Task {
 public:
  std::string name() const override { return "tfrecord"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    NABLA_CHECK(!dir.empty(), "model ", spec.name, ": the tfrecord task reads TFRecord files; ",
                "give them with --data (a file, a folder of them, or a quoted glob)");
    NABLA_CHECK(spec.data.has_value(), "model ", spec.name, ": a tfrecord task needs a \"data\" ",
                "section");
    data::TFRecordOptions options;
    options.features.kind = spec.data->input_kind;
    options.features.input = spec.data->input_feature;
    options.features.label = spec.data->label_feature;
    options.features.input_shape = model.built() ? model.input_shape() : spec.input_shape;
    options.test_fraction = spec.data->test_fraction;
    options.seed = spec.data->seed;
    options.skip_bad_records = spec.data->skip_bad_records;
    const bool scale = options.features.kind == "image" && !model.takes_raw_inputs();
    if (spec.data->stream) return load_streamed(dir, options, scale, model);
    data::TFRecordData records = data::load_tfrecord_data(dir, options);
    TaskData out;
    out.x_train = scale ? data::scale(records.train_inputs, 1.0 / 255) : records.train_inputs;
    out.x_test = scale ? data::scale(records.test_inputs, 1.0 / 255) : records.test_inputs;
    out.y_train = records.train_labels;
    out.y_test = records.test_labels;
    out.source = dir;
    out.dir = dir;
    out.class_names = records.class_names;
    return out;
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData&,
                            const train::EvaluationReport&) const override {
    return {};
  }

  // Streamed: the training samples shuffled in a buffer of kShuffleBuffer, batched, augmented,
  // and prefetched while the previous batch trains.
  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    if (!data.train_stream) return Task::train(model, data, fit);
    NABLA_CHECK(fit.validation_split == 0, "--validation-split: a streamed training part ",
                "holds nothing out; the test part is evaluated (--test-split sets its share)");
    NABLA_CHECK(fit.strategy == nullptr, "--stream: data-parallel training reads its data in ",
                "memory; leave --stream out");
    data::Pipeline pipeline = *data.train_stream;
    if (fit.shuffle) pipeline = pipeline.shuffle(kShuffleBuffer, fit.seed);
    pipeline = pipeline.batch(fit.batch_size);
    if (fit.augmentation) pipeline = pipeline.augment(fit.augmentation, fit.seed);
    train::FitOptions options = fit;
    options.augmentation = nullptr;
    return model.fit(pipeline.prefetch(2), options);
  }

 private:
  static constexpr int64_t kShuffleBuffer = 10000;

  static TaskData load_streamed(const std::string& dir, const data::TFRecordOptions& options,
                                bool scale, const train::Model& model) {
    // One decoding worker per core beyond the first: the training step has the others.
    const int64_t workers =
        std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()) - 1);
    data::TFRecordStreams streams = data::stream_tfrecord_data(dir, options, workers);
    TaskData out;
    data::Pipeline train = streams.train;
    if (scale) {
      train = train.map([](data::Element e) {
        e.input = data::scale(e.input, 1.0 / 255);
        return e;
      });
    }
    out.train_stream = std::make_shared<const data::Pipeline>(train);
    out.x_test = scale ? data::scale(streams.test_inputs, 1.0 / 255) : streams.test_inputs;
    out.y_test = streams.test_labels;
    out.source = dir;
    out.dir = dir;
    out.class_names = streams.class_names;
    // Classes the test part lacks keep their numbers, up to the model's outputs.
    const int64_t outputs = model.built() ? model.output_shape().back() : 0;
    for (auto c = static_cast<int64_t>(out.class_names.size()); c < outputs; ++c) {
      out.class_names.push_back(std::to_string(c));
    }
    return out;
  }
};

const bool kTFRecordRegistered =
    register_task("tfrecord", [] { return std::make_unique<TFRecordTask>(); });

}  // namespace
}  // namespace nabla::tasks
