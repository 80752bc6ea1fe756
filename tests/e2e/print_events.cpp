// Prints what TensorBoard event files hold, for the end-to-end tests: the file version, one line
// per summary value, "step S KIND TAG VALUE", and one per graph node, "graph NAME OP SHAPE <-
// INPUT". Reading goes through train::read_events, which verifies every record's CRCs and parses it
// as an Event; a bad file exits 1 with the reason.
#include <iostream>

#include "nabla/tensorboard.hpp"

namespace {

void print_value(int64_t step, const nabla::train::SummaryValue& value) {
  using Kind = nabla::train::SummaryValue::Kind;
  std::cout << "step " << step << " ";
  switch (value.kind) {
    case Kind::scalar:
      std::cout << "scalar " << value.tag << " " << value.scalar;
      break;
    case Kind::histogram:
      std::cout << "histogram " << value.tag << " num " << value.histogram.num;
      break;
    case Kind::image:
      std::cout << "image " << value.tag << " " << value.image.channels << "x" << value.image.height
                << "x" << value.image.width;
      break;
    case Kind::text:
      std::cout << "text " << value.tag << " " << value.text;
      break;
    case Kind::other:
      std::cout << "other " << value.tag;
      break;
  }
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  using nabla::operator<<;  // shapes as [2, 3]
  if (argc < 2) {
    std::cerr << "usage: print_events EVENT_FILE...\n";
    return 2;
  }
  try {
    for (int i = 1; i < argc; ++i) {
      std::cout << argv[i] << "\n";
      for (const nabla::train::TensorBoardEvent& event : nabla::train::read_events(argv[i])) {
        if (!event.file_version.empty()) std::cout << "file_version " << event.file_version << "\n";
        for (const nabla::train::SummaryValue& value : event.values) print_value(event.step, value);
        for (const nabla::train::GraphNodeSummary& node : event.graph) {
          std::cout << "graph " << node.name << " " << node.op << " " << node.output_shape;
          for (const std::string& input : node.inputs) std::cout << " <- " << input;
          std::cout << "\n";
        }
      }
    }
  } catch (const nabla::Error& e) {
    std::cerr << "print_events: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
