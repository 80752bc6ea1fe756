// The Highway networks experiment (Srivastava, Greff and Schmidhuber, "Training Very Deep
// Networks", 2015) on Fashion-MNIST: 30 highway layers of 50 units against 30 plain Dense layers
// of the same width and initialization, beside the 2-layer `mlp` preset. The gates' negative
// starting bias lets the deep highway network pass its input through and train like a shallow
// one; the plain network of the same depth trains far worse. Trains the three presets with the
// same settings, prints their test accuracies and draws both deep networks' training curves (and
// the mlp's) into one SVG plot.
//
// Usage: highway_vs_plain [SAMPLES [EPOCHS [PLOT.svg]]] (default: all 60000 images; EPOCHS 0 or
// none: each preset's own, 10 for the deep networks and 5 for the mlp; highway_vs_plain.svg).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>
#include <sstream>

using namespace nabla;

int main(int argc, char** argv) try {
  tasks::RunOptions options;
  options.limit = argc > 1 ? std::atoll(argv[1]) : 0;
  if (argc > 2 && std::atoll(argv[2]) > 0) options.epochs = std::atoll(argv[2]);
  const std::string plot = argc > 3 ? argv[3] : "highway_vs_plain.svg";
  options.verbose = 2;
  std::ostringstream quiet;  // the runs' own "Training ..." lines
  options.log = &quiet;

  std::vector<train::Series> curves;
  std::vector<std::pair<std::string, double>> accuracies;
  for (const char* preset : {"highway", "plain_deep", "mlp"}) {
    std::cout << "== " << preset << "\n";
    const tasks::RunResult result = tasks::run(std::string(preset), options);
    train::Series curve{preset, {}, {}};
    for (size_t i = 0; i < result.history.epoch.size(); ++i) {
      curve.x.push_back(static_cast<double>(result.history.epoch[i] + 1));
      curve.y.push_back(result.history["accuracy"][i]);
    }
    curves.push_back(curve);
    accuracies.emplace_back(preset, result.report["accuracy"]);
  }
  for (const auto& [preset, accuracy] : accuracies) {
    std::printf("%-12s test accuracy: %.4f\n", (preset + ":").c_str(), accuracy);
  }
  train::LinePlotOptions plot_options;
  plot_options.title = "30 highway vs 30 plain layers of 50 units";
  plot_options.y_label = "training accuracy";
  data::write_file_atomic(plot, train::svg_line_plot(curves, plot_options), "plot");
  std::cout << "Wrote " << plot << "\n";
} catch (const nabla::Error& e) {
  std::cerr << "highway_vs_plain: error: " << e.what() << "\n";
  return 1;
}
