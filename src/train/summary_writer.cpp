// SummaryWriter: TensorBoard event files, each event a protobuf Event message (encoded by Debian's
// libprotobuf from train/tensorboard.proto) framed as a TFRecord. Events collect in memory and
// are written in whole records, so that a file always ends at a record boundary after a flush.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include "data/file_util.hpp"
#include "data/png.hpp"
#include "data/tfrecord.hpp"
#include "nabla/tensorboard.hpp"
#include "train/internal.hpp"
#include "train/layer_graph.hpp"
#include "train/tensorboard.pb.h"
#include "train/tensorboard_histogram.hpp"

namespace nabla::train {
namespace {

namespace proto = tensorboard_proto;

// Events wait in memory up to this size between flushes (images are the large ones: a grid of
// 64 Fashion-MNIST images is about 40 KB of PNG).
constexpr size_t kMaxPendingBytes = size_t{1} << 20;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// TensorFlow's name: events.out.tfevents.<seconds, 10 digits>.<host>.
std::string event_file_name(double wall_time) {
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%010lld", static_cast<long long>(wall_time));
  return std::string("events.out.tfevents.") + seconds + "." + host_name();
}

// A name TensorFlow accepts for a node ([A-Za-z0-9.][A-Za-z0-9_./]*): a shared layer's second
// call "tower[1]" becomes "tower.1", any other character '_'.
std::string graph_node_name(const std::string& name) {
  std::string out;
  for (const char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/') {
      out += c;
    } else if (c == '[') {
      out += '.';
    } else if (c != ']') {
      out += '_';
    }
  }
  return out.empty() || out[0] == '_' || out[0] == '/' ? "n" + out : out;
}

// The layers of `model` as a GraphDef, each inside the scope named after the model.
proto::GraphDef model_graph(const Model& model) {
  std::vector<internal::LayerNode> layers = internal::layer_graph(model);
  if (!layers.empty() && layers.front().type != "InputLayer") {
    // A Sequential (or a plain module): its input becomes a node, as in a graph model.
    layers.front().inputs.push_back("input");
    layers.insert(
        layers.begin(),
        internal::LayerNode{
            "input", "InputLayer", internal::with_batch_axis(model.input_shape()), 0, {}});
  }
  const std::string scope = graph_node_name(model.name().empty() ? "model" : model.name()) + "/";
  std::map<std::string, std::string> names;  // layer node -> graph node
  for (const internal::LayerNode& layer : layers) {
    names[layer.name] = (layer.type == "InputLayer" ? "" : scope) + graph_node_name(layer.name);
  }
  proto::GraphDef graph;
  for (const internal::LayerNode& layer : layers) {
    proto::NodeDef* node = graph.add_node();
    node->set_name(names[layer.name]);
    node->set_op(layer.type);
    for (const std::string& input : layer.inputs) node->add_input(names[input]);
    Shape shape = layer.output_shape;
    if (!shape.empty()) shape[0] = -1;  // any batch size
    auto& attrs = *node->mutable_attr();
    proto::TensorShapeProto* output_shape = attrs["_output_shapes"].mutable_list()->add_shape();
    for (const int64_t size : shape) output_shape->add_dim()->set_size(size);
    if (layer.type != "InputLayer") attrs["parameters"].set_i(layer.params);
  }
  graph.mutable_versions()->set_producer(22);  // PyTorch's value; TensorBoard does not check it
  return graph;
}

}  // namespace

struct SummaryWriter::State {
  std::string log_dir;
  std::string path;
  int fd = -1;
  std::string pending;  // framed events not yet written

  // Also when a writer is destroyed or assigned over: what was added still reaches the file.
  ~State() {
    if (fd < 0) return;
    try {
      flush();
    } catch (const Error&) {
      // A destructor cannot report it; close() does.
    }
    ::close(fd);
  }

  void check_open(const char* who) const {
    NABLA_CHECK(fd >= 0, "SummaryWriter::", who, ": the writer of ", path, " is closed");
  }

  void write(const proto::Event& event) {
    std::string bytes;
    NABLA_CHECK(event.SerializeToString(&bytes), "SummaryWriter: cannot encode an event for ",
                path);
    data::internal::append_tfrecord(pending, bytes);
    if (pending.size() >= kMaxPendingBytes) flush();
  }

  void flush() {
    size_t done = 0;
    while (done < pending.size()) {
      const ssize_t n = ::write(fd, pending.data() + done, pending.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string reason = data::internal::errno_message();
        pending.erase(0, done);
        NABLA_CHECK(false, "SummaryWriter: cannot write ", path, ": ", reason);
      }
      done += static_cast<size_t>(n);
    }
    pending.clear();
  }

  // An event at `step` holding one summary value named `tag`, for `who` to fill.
  proto::Summary::Value* start(proto::Event& event, const char* who, const std::string& tag,
                               int64_t step) const {
    check_open(who);
    NABLA_CHECK(!tag.empty(), "SummaryWriter::", who, ": expected a tag, got an empty string");
    event.set_wall_time(now_seconds());
    event.set_step(step);
    proto::Summary::Value* value = event.mutable_summary()->add_value();
    value->set_tag(tag);
    return value;
  }
};

SummaryWriter::SummaryWriter(const std::string& log_dir) : state_(std::make_unique<State>()) {
  namespace fs = std::filesystem;
  NABLA_CHECK(!log_dir.empty(), "SummaryWriter: expected a log folder, got an empty path");
  std::error_code error;
  NABLA_CHECK(!fs::exists(log_dir, error) || fs::is_directory(log_dir, error),
              "SummaryWriter: ", log_dir,
              " exists and is not a folder; expected a folder for the event files");
  fs::create_directories(log_dir, error);
  NABLA_CHECK(!error, "SummaryWriter: cannot create the log folder ", log_dir, ": ",
              error.message());
  State& state = *state_;
  state.log_dir = log_dir;
  const double wall_time = now_seconds();
  const std::string base = (fs::path(log_dir) / event_file_name(wall_time)).string();
  // Two writers started in one second in one folder would get the same name; the second gets
  // a numbered one instead of overwriting the first's file.
  for (int attempt = 0; attempt <= 1000; ++attempt) {
    state.path = attempt == 0 ? base : base + "." + std::to_string(attempt);
    state.fd = ::open(state.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (state.fd >= 0 || errno != EEXIST) break;
  }
  NABLA_CHECK(state.fd >= 0, "SummaryWriter: cannot create an event file in ", log_dir, ": ",
              data::internal::errno_message());
  proto::Event event;
  event.set_wall_time(wall_time);
  event.set_step(0);
  event.set_file_version("brain.Event:2");
  state.write(event);
  state.flush();
}

SummaryWriter::~SummaryWriter() = default;

SummaryWriter::SummaryWriter(SummaryWriter&&) noexcept = default;
SummaryWriter& SummaryWriter::operator=(SummaryWriter&&) noexcept = default;

SummaryWriter::State& SummaryWriter::state(const char* who) const {
  NABLA_CHECK(state_ != nullptr, "SummaryWriter::", who, ": the writer was moved from");
  return *state_;
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  State& state = this->state("add_scalar");
  proto::Event event;
  state.start(event, "add_scalar", tag, step)->set_simple_value(static_cast<float>(value));
  state.write(event);
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, int64_t step) {
  State& state = this->state("add_histogram");
  proto::Event event;
  proto::HistogramProto* out = state.start(event, "add_histogram", tag, step)->mutable_histo();
  const HistogramSummary histogram =
      internal::make_histogram(values, "SummaryWriter::add_histogram: tag '" + tag + "'");
  out->set_min(histogram.min);
  out->set_max(histogram.max);
  out->set_num(histogram.num);
  out->set_sum(histogram.sum);
  out->set_sum_squares(histogram.sum_squares);
  for (size_t i = 0; i < histogram.bucket.size(); ++i) {
    out->add_bucket_limit(histogram.bucket_limit[i]);
    out->add_bucket(histogram.bucket[i]);
  }
  state.write(event);
}

void SummaryWriter::add_image(const std::string& tag, const Tensor& image, int64_t step) {
  State& state = this->state("add_image");
  proto::Event event;
  proto::Summary::Image* out = state.start(event, "add_image", tag, step)->mutable_image();
  const std::string what = "SummaryWriter::add_image: tag '" + tag + "'";
  const Tensor pixels = data::internal::png_pixels(image, what);
  out->set_height(static_cast<int32_t>(pixels.size(1)));
  out->set_width(static_cast<int32_t>(pixels.size(2)));
  out->set_colorspace(static_cast<int32_t>(pixels.size(0)));  // 1 grey, 3 RGB, 4 RGBA
  out->set_encoded_image_string(data::internal::encode_png(pixels, what));
  state.write(event);
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, int64_t step) {
  State& state = this->state("add_text");
  proto::Event event;
  proto::Summary::Value* value = state.start(event, "add_text", tag + "/text_summary", step);
  // The plugin's content is PyTorch's TextPluginData(version=0), which serializes to no bytes.
  value->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  proto::TensorProto* tensor = value->mutable_tensor();
  tensor->set_dtype(proto::DT_STRING);
  tensor->mutable_tensor_shape()->add_dim()->set_size(1);
  tensor->add_string_val(text);
  state.write(event);
}

void SummaryWriter::add_graph(const Model& model) {
  State& state = this->state("add_graph");
  state.check_open("add_graph");
  NABLA_CHECK(model.built(), "SummaryWriter::add_graph: the model '", model.name(),
              "' is not built yet; call build(input_shape) or fit() first");
  proto::Event event;
  event.set_wall_time(now_seconds());
  event.set_graph_def(model_graph(model).SerializeAsString());
  state.write(event);
}

void SummaryWriter::flush() {
  State& state = this->state("flush");
  state.check_open("flush");
  state.flush();
}

void SummaryWriter::close() {
  if (state_ == nullptr || state_->fd < 0) return;
  state_->flush();
  const int fd = state_->fd;
  state_->fd = -1;
  NABLA_CHECK(::close(fd) == 0, "SummaryWriter: cannot close ", state_->path, ": ",
              data::internal::errno_message());
}

const std::string& SummaryWriter::log_dir() const { return state("log_dir").log_dir; }

const std::string& SummaryWriter::path() const { return state("path").path; }

}  // namespace nabla::train
