// nabla: the command line. Every failure is one line "nabla: error: ..." on stderr and a non-zero
// exit: 2 for a mistake on the command line (CLI11's parse errors, the flags' validators in
// common.cpp, cli::UsageError), 1 for everything else (data, files, training); never a stack
// trace.
#include <iostream>
#include <optional>
#include <string>

#include "common.hpp"
#include "nabla/dist.hpp"

namespace {

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

int fail(const std::string& message, int code) {
  if (nabla::dist::size() > 1) {
    // One rank of an MPI job: the others would wait for it forever. Name it, and end them all.
    nabla::dist::abort(code, "nabla: error: rank " + std::to_string(nabla::dist::rank()) + " of " +
                                 std::to_string(nabla::dist::size()) + ": " + one_line(message));
  }
  std::cerr << "nabla: error: " << one_line(message) << std::endl;
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Started by mpirun or srun: the process group lives as long as main. Rank 0 alone prints;
  // errors reach stderr from any rank.
  std::optional<nabla::dist::Environment> mpi;
  std::ostream silent_output(nullptr);
  try {
    if (nabla::dist::launched_by_mpi()) mpi.emplace();
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  if (nabla::dist::rank() > 0) std::cout.rdbuf(silent_output.rdbuf());
  CLI::App app{"nabla: train, evaluate and inspect neural networks from the command line.",
               "nabla"};
  app.footer(
      "Examples:\n"
      "  nabla train                          # the classic MLP on Fashion-MNIST, 5 epochs\n"
      "  nabla train --epochs 10 --out runs/mlp\n"
      "  nabla evaluate --checkpoint runs/mlp\n"
      "  nabla predict --checkpoint runs/mlp --index 0,1,2\n"
      "  nabla summary --model mlp\n"
      "  nabla report runs/mlp                # write runs/mlp/report.html again\n"
      "  nabla export --checkpoint runs/mlp --onnx mlp.onnx\n"
      "  nabla import model.onnx --out runs/imported\n"
      "  nabla embed --checkpoint runs/w2v --neighbors moses\n"
      "  nabla search --checkpoint runs/triplet --index 0\n"
      "Run 'nabla COMMAND --help' for the options of a command.");
  app.set_version_flag("--version", "nabla " NABLA_VERSION, "Print the version and exit");
  app.require_subcommand(1);
  const std::vector<nabla::cli::Command> commands = {
      nabla::cli::add_train_command(app),    nabla::cli::add_evaluate_command(app),
      nabla::cli::add_predict_command(app),  nabla::cli::add_summary_command(app),
      nabla::cli::add_generate_command(app), nabla::cli::add_report_command(app),
      nabla::cli::add_export_command(app),   nabla::cli::add_import_command(app),
      nabla::cli::add_embed_command(app),    nabla::cli::add_convert_command(app),
      nabla::cli::add_search_command(app)};
  if (argc == 1) {
    std::cout << app.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    // A bad value: the message names the flag and what it takes, e.g. "--epochs: expected an
    // integer >= 1, got 0".
    return fail(e.what(), 2);
  } catch (const CLI::ParseError& e) {
    std::string where = "nabla";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return fail(std::string(e.what()) + " (see '" + where + " --help')", 2);
  }
  try {
    for (const nabla::cli::Command& command : commands) {
      if (command.app->parsed()) command.run();
    }
  } catch (const nabla::cli::UsageError& e) {  // a flag's value found wrong after parsing
    std::cout.flush();
    return fail(e.what(), 2);
  } catch (const std::exception& e) {  // nabla::Error and anything from the standard library
    std::cout.flush();
    return fail(e.what(), 1);
  }
  return 0;
}
