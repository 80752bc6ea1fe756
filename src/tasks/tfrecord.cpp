// Task "tfrecord": classification on TFRecord shards of tf.train.Example records
// (data::load_tfrecord_data). The spec's "data" section names the features ("input_kind": image
// or floats, "input_feature", "label_feature") and the split; the model's input shape says how an
// image is read (channels, height, width) or how many floats a sample holds.
#include "nabla/data.hpp"
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
    data::TFRecordData records = data::load_tfrecord_data(dir, options);
    const bool scale = options.features.kind == "image" && !model.takes_raw_inputs();
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
};

const bool kTFRecordRegistered =
    register_task("tfrecord", [] { return std::make_unique<TFRecordTask>(); });

}  // namespace
}  // namespace nabla::tasks
