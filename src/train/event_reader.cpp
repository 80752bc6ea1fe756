// Reading TensorBoard event files back: the TFRecords (both CRCs verified), each parsed as an
// Event message, the summary values turned into plain structs. Used by the tests, and by anyone
// checking what a run wrote; it reads files written by TensorFlow and PyTorch as well.
#include <cstring>

#include "data/file_util.hpp"
#include "data/tfrecord.hpp"
#include "nabla/tensorboard.hpp"
#include "train/tensorboard.pb.h"

namespace nabla::train {
namespace {

namespace proto = tensorboard_proto;

// A one-element float tensor is a scalar as TensorFlow 2 writes it (plugin "scalars"); a string
// tensor is text (plugin "text").
void decode_tensor(const proto::TensorProto& tensor, SummaryValue& out) {
  if (tensor.dtype() == proto::DT_STRING && tensor.string_val_size() > 0) {
    out.kind = SummaryValue::Kind::text;
    out.text = tensor.string_val(0);
  } else if (tensor.dtype() == proto::DT_FLOAT && tensor.float_val_size() == 1) {
    out.kind = SummaryValue::Kind::scalar;
    out.scalar = tensor.float_val(0);
  } else if (tensor.dtype() == proto::DT_DOUBLE && tensor.double_val_size() == 1) {
    out.kind = SummaryValue::Kind::scalar;
    out.scalar = tensor.double_val(0);
  } else if (tensor.dtype() == proto::DT_FLOAT && tensor.tensor_content().size() == 4) {
    float value;  // little-endian, as TensorFlow stores it and as nabla's x86-64 hosts are
    std::memcpy(&value, tensor.tensor_content().data(), sizeof(value));
    out.kind = SummaryValue::Kind::scalar;
    out.scalar = value;
  } else if (tensor.dtype() == proto::DT_DOUBLE && tensor.tensor_content().size() == 8) {
    std::memcpy(&out.scalar, tensor.tensor_content().data(), sizeof(out.scalar));
    out.kind = SummaryValue::Kind::scalar;
  }
}

SummaryValue decode_value(const proto::Summary::Value& value) {
  SummaryValue out;
  out.tag = value.tag();
  out.plugin = value.metadata().plugin_data().plugin_name();
  switch (value.value_case()) {
    case proto::Summary::Value::kSimpleValue:
      out.kind = SummaryValue::Kind::scalar;
      out.scalar = value.simple_value();
      break;
    case proto::Summary::Value::kHisto: {
      const proto::HistogramProto& histo = value.histo();
      out.kind = SummaryValue::Kind::histogram;
      out.histogram = {histo.min(),
                       histo.max(),
                       histo.num(),
                       histo.sum(),
                       histo.sum_squares(),
                       {histo.bucket_limit().begin(), histo.bucket_limit().end()},
                       {histo.bucket().begin(), histo.bucket().end()}};
      break;
    }
    case proto::Summary::Value::kImage:
      out.kind = SummaryValue::Kind::image;
      out.image = {value.image().height(), value.image().width(), value.image().colorspace(),
                   value.image().encoded_image_string()};
      break;
    case proto::Summary::Value::kTensor:
      decode_tensor(value.tensor(), out);
      break;
    default:
      break;
  }
  return out;
}

std::vector<GraphNodeSummary> decode_graph(const std::string& bytes, const std::string& what,
                                           size_t offset) {
  proto::GraphDef graph;
  NABLA_CHECK(graph.ParseFromString(bytes), what, ": the graph in the record at byte offset ",
              offset, " is not a GraphDef message");
  std::vector<GraphNodeSummary> nodes;
  for (const proto::NodeDef& node : graph.node()) {
    GraphNodeSummary& out = nodes.emplace_back();
    out.name = node.name();
    out.op = node.op();
    out.inputs.assign(node.input().begin(), node.input().end());
    const auto shapes = node.attr().find("_output_shapes");
    if (shapes != node.attr().end() && shapes->second.list().shape_size() > 0) {
      for (const auto& dim : shapes->second.list().shape(0).dim())
        out.output_shape.push_back(dim.size());
    }
    const auto parameters = node.attr().find("parameters");
    if (parameters != node.attr().end()) out.parameters = parameters->second.i();
  }
  return nodes;
}

}  // namespace

std::vector<TensorBoardEvent> read_events(const std::string& path) {
  const std::string what = "read_events: " + path;
  const std::string bytes = data::internal::read_file(path, "read_events");
  std::vector<TensorBoardEvent> events;
  for (const data::internal::TFRecord& record : data::internal::parse_tfrecords(bytes, what)) {
    proto::Event event;
    NABLA_CHECK(event.ParseFromArray(record.data.data(), static_cast<int>(record.data.size())),
                what, ": the record at byte offset ", record.offset,
                " is not a TensorBoard Event message");
    TensorBoardEvent& out = events.emplace_back();
    out.wall_time = event.wall_time();
    out.step = event.step();
    out.file_version = event.file_version();
    if (event.has_graph_def()) out.graph = decode_graph(event.graph_def(), what, record.offset);
    for (const proto::Summary::Value& value : event.summary().value()) {
      out.values.push_back(decode_value(value));
    }
  }
  return events;
}

}  // namespace nabla::train
