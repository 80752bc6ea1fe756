// nabla report: writes RUN_DIR/report.html for a folder written by `nabla train --out` (which
// writes it itself at the end): one self-contained page with the run's settings, model, curves,
// norms, confusion matrix and worst mistakes. The work is tasks::write_report's.
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct ReportCommandOptions {
  std::string run_dir;
  std::string data_dir;
  int64_t batch_size = 256;
  int64_t threads = 0;
};

void run_report(const ReportCommandOptions& options) {
  apply_threads(options.threads);
  const std::string path = tasks::write_report(
      options.run_dir, {.data_dir = options.data_dir, .batch_size = options.batch_size});
  std::cout << "Wrote " << path << "\n";
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportCommandOptions>();
  CLI::App* sub = app.add_subcommand(
      "report", "Write RUN_DIR/report.html: a self-contained page of a run's plots and results");
  sub->add_option("RUN_DIR", options->run_dir, "Folder written by `nabla train --out`")->required();
  sub->add_option("--data", options->data_dir,
                  "Data folder (default: the one the model was trained on)")
      ->check(data_folder());
  sub->add_option("--batch-size", options->batch_size, "Samples per forward pass")
      ->check(in_range<int64_t>(1))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(in_range<int64_t>(0));
  sub->footer(
      "Examples:\n"
      "  nabla train --epochs 10 --validation-split 0.1 --out runs/mlp   # writes the report too\n"
      "  nabla report runs/mlp                                            # writes it again");
  return {sub, [options] { run_report(*options); }};
}

}  // namespace nabla::cli
