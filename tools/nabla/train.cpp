// nabla train: the classic Keras example by default (preset mlp on Fashion-MNIST: Adam 1e-3,
// sparse categorical cross-entropy, accuracy, 5 epochs, batch 32, seed 0), then the figures its
// task judges it by. --out writes model.safetensors, model.json, metrics.csv, norms.csv and the
// run's report.html; --tensorboard adds the TensorBoard callback. The work is tasks::run's; this
// file parses the command line and prints.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "common.hpp"
#include "nabla/dist.hpp"

namespace nabla::cli {
namespace {

struct TrainOptions {
  std::string model = "mlp";
  // One folder or file; several (a shell-expanded glob of TFRecord files) are joined by commas,
  // the list data::tfrecord_files takes.
  std::vector<std::string> data_dir;
  int64_t epochs = 0;
  int64_t batch_size = 0;
  std::string optimizer;
  double lr = 0;
  uint64_t seed = 0;
  int64_t threads = 0;
  double validation_split = 0;
  std::string out;
  std::string tensorboard;
  bool detect_anomaly = false;
  std::string strategy = "allreduce";
  int64_t servers = 1;
  int64_t staleness = 0;
  std::string save_every = "1";
  int64_t keep = 2;
  std::string save_best;
  bool resume = false;
  std::string init_from;
  bool new_head = false;
  std::string freeze;
  std::string classes;
  int64_t limit = 0;
  int verbose = 1;
  bool quiet = false;
  bool json = false;
  std::string lr_schedule;
  std::vector<std::string> augment;
  int64_t early_stopping = 0;
  int64_t reduce_lr_on_plateau = 0;
  double reduce_lr_factor = 0.1;
  std::string monitor;
  std::string image_size;
  std::string color;
  double test_split = 0.2;
  bool skip_bad_records = false;
  bool stream = false;
  std::string input_feature;
  std::string label_feature;
  std::string target;
  CLI::Option* test_split_given = nullptr;
  CLI::Option* early_stopping_given = nullptr;
  CLI::Option* reduce_lr_given = nullptr;
  // Which of the training settings the command line overrides (else the spec's are used).
  CLI::Option* epochs_given = nullptr;
  CLI::Option* batch_size_given = nullptr;
  CLI::Option* optimizer_given = nullptr;
  CLI::Option* lr_given = nullptr;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
  CLI::Option* momentum_given = nullptr;
  CLI::Option* weight_decay_given = nullptr;
  CLI::Option* validation_split_given = nullptr;
  CLI::Option* loss_given = nullptr;
  std::string loss;
  std::string precision;  // "" = the spec's
};

// "--save-every": N (epochs), "Nepochs" or "Nsteps" (batches), N >= 1.
void parse_save_every(const std::string& text, tasks::RunOptions& run) {
  size_t end = 0;
  long long count = 0;
  try {
    count = std::stoll(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  const std::string unit = text.substr(end);
  const bool steps = unit == "steps" || unit == "step";
  NABLA_CHECK(
      end > 0 && count >= 1 && (unit.empty() || unit == "epochs" || unit == "epoch" || steps),
      "expected a count of epochs or steps such as 2, 2epochs or 500steps, got '", text, "'");
  run.save_every_epochs = steps ? 1 : count;
  run.save_every_steps = steps ? count : 0;
}

// "--image-size": HEIGHTxWIDTH ("64x64"), or one number for a square.
std::pair<int64_t, int64_t> parse_image_size(const std::string& text) {
  const size_t x = text.find('x');
  const auto number = [&](const std::string& digits) {
    NABLA_CHECK(!digits.empty() && digits.size() < 6 &&
                    digits.find_first_not_of("0123456789") == std::string::npos &&
                    std::stoll(digits) > 0,
                "expected an image size HEIGHTxWIDTH such as 64x64 (or 64), got '", text, "'");
    return std::stoll(digits);
  };
  const int64_t height = number(text.substr(0, x));
  return {height, x == std::string::npos ? height : number(text.substr(x + 1))};
}

// "--classes": class numbers and ranges, "5-9" or "0,2,4-6".
std::vector<int64_t> parse_classes(const std::string& text) {
  std::vector<int64_t> classes;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t dash = item.find('-', 1);
    const auto number = [&](const std::string& digits) {
      NABLA_CHECK(!digits.empty() && digits.size() < 10 &&
                      digits.find_first_not_of("0123456789") == std::string::npos,
                  "expected class numbers and ranges such as 5-9 or 0,2,4, got '", text, "'");
      return std::stoll(digits);
    };
    const int64_t first = number(item.substr(0, dash));
    const int64_t last = dash == std::string::npos ? first : number(item.substr(dash + 1));
    NABLA_CHECK(first <= last, "the range ", item, " in '", text, "' is empty");
    for (int64_t c = first; c <= last; ++c) classes.push_back(c);
    start = comma + 1;
  }
  return classes;
}

std::vector<std::string> split_patterns(const std::string& text) {
  std::vector<std::string> patterns;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) patterns.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return patterns;
}

// A value of the short form: a number, true or false, numbers separated by '/' (a list), else
// a string.
nlohmann::json shorthand_value(const std::string& text) {
  if (text == "true" || text == "false") return text == "true";
  // Integers stay integers ("step_size": 5, not 5.0), as the spec's keys expect them.
  const auto number = [](const std::string& item) -> std::optional<nlohmann::json> {
    char* end = nullptr;
    const long long integer = std::strtoll(item.c_str(), &end, 10);
    if (!item.empty() && end == item.c_str() + item.size()) return integer;
    const double value = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size()) return std::nullopt;
    return value;
  };
  if (text.find('/') != std::string::npos) {
    nlohmann::json list = nlohmann::json::array();
    size_t start = 0;
    while (start <= text.size()) {
      const size_t slash = std::min(text.find('/', start), text.size());
      const auto value = number(text.substr(start, slash - start));
      if (!value) return text;
      list.push_back(*value);
      start = slash + 1;
    }
    return list;
  }
  if (const auto value = number(text)) return *value;
  return text;
}

// --lr-schedule and --augment take JSON ({"type": "step", "step_size": 5}) or the short form
// "step,step_size=5,gamma=0.5": a type, then key=value settings.
nlohmann::json shorthand_object(const std::string& text, const char* flag) {
  if (!text.empty() && (text.front() == '{' || text.front() == '[')) {
    const nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) {
      throw UsageError("'" + text + "' is not valid JSON");
    }
    return value;
  }
  nlohmann::json object = nlohmann::json::object();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t equals = item.find('=');
    if (start == 0) {
      if (item.empty() || equals != std::string::npos) {
        throw UsageError(std::string("expected a type first, e.g. '") +
                         (std::string(flag) == "--augment" ? "RandomFlip,horizontal=true"
                                                           : "step,step_size=5,gamma=0.5") +
                         "', got '" + text + "'");
      }
      object["type"] = item;
    } else {
      if (equals == std::string::npos || equals == 0) {
        throw UsageError("expected key=value after the type, got '" + item + "' in '" + text + "'");
      }
      object[item.substr(0, equals)] = shorthand_value(item.substr(equals + 1));
    }
    start = comma + 1;
  }
  return object;
}

// The --lr-schedule or --augment text as the JSON of the spec's training key, checked as a spec
// file's is.
std::string training_flag_json(const std::string& key, const std::string& text, const char* flag) {
  nlohmann::json value = shorthand_object(text, flag);
  if (key == "augmentation" && !value.is_array()) value = nlohmann::json::array({value});
  io::merge_training(io::TrainingSpec{}, nlohmann::json{{key, value}}.dump(), "(command line)");
  return value.dump();
}

void run_train(const TrainOptions& options) {
  apply_threads(options.threads);
  tasks::RunOptions run;
  for (const std::string& path : options.data_dir) {
    run.data_dir += (run.data_dir.empty() ? "" : ",") + path;
  }
  run.limit = options.limit;
  run.seed = options.seed;
  run.verbose = options.quiet || options.json ? 0 : options.verbose;
  // --json: stdout carries the JSON lines only; --quiet: the results only.
  std::ostream silent(nullptr);
  if (options.quiet || options.json) run.log = &silent;
  if (options.json) run.json = &std::cout;
  if (!options.lr_schedule.empty()) {
    run.lr_schedule = training_flag_json("lr_schedule", options.lr_schedule, "--lr-schedule");
  }
  if (!options.augment.empty()) {
    nlohmann::json steps = nlohmann::json::array();
    for (const std::string& step : options.augment) {
      for (const auto& item :
           nlohmann::json::parse(training_flag_json("augmentation", step, "--augment"))) {
        steps.push_back(item);
      }
    }
    run.augmentation = steps.dump();
  }
  if (*options.early_stopping_given) run.early_stopping = options.early_stopping;
  if (*options.reduce_lr_given) run.reduce_lr_on_plateau = options.reduce_lr_on_plateau;
  run.reduce_lr_factor = options.reduce_lr_factor;
  run.monitor = options.monitor;
  run.out = options.out;
  run.tensorboard = options.tensorboard;
  run.detect_anomaly = options.detect_anomaly;
  // Started by mpirun/srun with several processes: data-parallel training over them.
  if (options.strategy == "parameter-server") {
    if (dist::size() < 2) {
      throw UsageError(
          "--strategy parameter-server: needs at least 2 processes (a worker and a "
          "server); start it with mpirun -np N nabla train ...");
    }
    run.strategy = std::make_shared<dist::ParameterServer>(dist::ParameterServerOptions{
        .servers = static_cast<int>(options.servers), .staleness = options.staleness});
  } else if (dist::size() > 1) {
    run.strategy = std::make_shared<dist::DataParallel>();
  }
  parse_save_every(options.save_every, run);
  run.keep = options.keep;
  run.save_best = options.save_best;
  run.resume = options.resume;
  run.init_from = options.init_from;
  run.new_head = options.new_head;
  run.freeze = split_patterns(options.freeze);
  if (!options.classes.empty()) run.classes = parse_classes(options.classes);
  if (*options.epochs_given) run.epochs = options.epochs;
  if (*options.batch_size_given) run.batch_size = options.batch_size;
  if (*options.optimizer_given) run.optimizer = options.optimizer;
  if (*options.lr_given) run.lr = options.lr;
  if (*options.momentum_given) run.momentum = options.momentum;
  if (*options.weight_decay_given) run.weight_decay = options.weight_decay;
  if (options.nesterov) run.nesterov = true;
  if (*options.loss_given) run.loss = options.loss;
  if (!options.precision.empty()) run.precision = options.precision;
  if (*options.validation_split_given) run.validation_split = options.validation_split;
  if (!options.image_size.empty()) run.image_size = parse_image_size(options.image_size);
  run.color = options.color;
  if (*options.test_split_given) run.test_split = options.test_split;
  run.skip_bad_records = options.skip_bad_records;
  run.stream = options.stream;
  run.input_feature = options.input_feature;
  run.label_feature = options.label_feature;
  run.target = options.target;
  const tasks::RunResult result = tasks::run(options.model, run);
  if (options.json) {
    nlohmann::json figures = nlohmann::json::object();
    for (const tasks::Figure& figure : result.figures) figures[figure.name] = figure.value;
    std::cout << nlohmann::json{{"figures", figures}}.dump() << std::endl;
    return;
  }
  for (const tasks::Figure& figure : result.figures) std::cout << figure.text << "\n";
  if (!options.out.empty() && !options.quiet && !result.saved.empty()) {
    std::cout << "Saved " << result.saved << " to " << options.out << "\n";
  } else if (!options.out.empty() && !options.quiet) {
    std::cout << "Saved " << tasks::kWeightsFile << ", " << tasks::kSpecFile << ", "
              << tasks::kMetricsFile << ", " << tasks::kNormsFile << " and " << tasks::kReportFile
              << " to " << options.out << "\n";
  }
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand(
      "train", "Train a model (default: the classic MLP on Fashion-MNIST), then test it");
  sub->add_option("--model,-m", options->model,
                  "Built-in preset name or JSON model file (docs/model-format.md)")
      ->check(model_name_or_file())
      ->capture_default_str();
  sub->add_option("--data", options->data_dir,
                  "Folder with the four MNIST-layout IDX files (default: " +
                      std::string(data::kFashionMnistDir) +
                      "); an image folder (a folder of PNG/JPEG images per class, or train/ "
                      "and test/ folders of them) or TFRecord files (a file, a folder of them, "
                      "or a glob such as shards/*.tfrecord) for an image model; "
                      "for a text model, the fortunes or corpus folder")
      ->check(data_folder())
      ->expected(1, -1);
  sub->add_option("--image-size", options->image_size,
                  "Image folder or TFRecord images: resize every image to HEIGHTxWIDTH, e.g. 64x64 "
                  "(default: the "
                  "model's input size); the model's input shape follows")
      ->check(checked_by([](const std::string& text) { parse_image_size(text); }, "HxW"));
  sub->add_option("--color", options->color,
                  "Image folder or TFRecord images: rgb (default) or grayscale")
      ->check(CLI::IsMember({"rgb", "grayscale"}));
  options->test_split_given =
      sub->add_option("--test-split", options->test_split,
                      "Image folder of class folders or TFRecord files without train*/test* "
                      "shards: the fraction held out as the test part, drawn with --seed "
                      "(default 0.2)")
          ->check(in_range<double>(0, 0.99, true));
  sub->add_flag("--skip-bad-records", options->skip_bad_records,
                "Image folder or TFRecord files: skip corrupt or truncated images, other files "
                "and records missing a feature with a warning each, and count them, instead of "
                "stopping with an error");
  sub->add_flag("--stream", options->stream,
                "TFRecord files: stream the training part while training (read, decoded, "
                "shuffled in a buffer of 10000 and batched by background threads) instead of "
                "loading it; automatic above 1 GiB of files");
  sub->add_option("--input-feature", options->input_feature,
                  "TFRecord files: the feature holding a sample's input, encoded image bytes or "
                  "a float list (default: image, else features)");
  sub->add_option("--label-feature", options->label_feature,
                  "TFRecord files: the int64 feature holding the class (default: label)");
  sub->add_option("--target", options->target,
                  "Tabular data (wide_deep, wide, deep): the CSV column to predict; with --data "
                  "FILE.csv the other columns' types are inferred");
  options->epochs_given =
      sub->add_option("--epochs", options->epochs, "Epochs (default: the model's, 5 for mlp)")
          ->check(in_range<int64_t>(1));
  options->batch_size_given =
      sub->add_option("--batch-size", options->batch_size, "Batch size (default: 32)")
          ->check(in_range<int64_t>(1));
  options->optimizer_given = sub->add_option("--optimizer", options->optimizer,
                                             "sgd, adam, adamw, rmsprop or adagrad (default: adam)")
                                 ->check(optimizer_name());
  options->lr_given = sub->add_option("--lr", options->lr,
                                      "Learning rate (default: the optimizer's, 0.001 for adam)")
                          ->check(in_range<double>(0, std::numeric_limits<double>::max(), true));
  options->momentum_given =
      sub->add_option("--momentum", options->momentum, "sgd or rmsprop: momentum (default 0)")
          ->check(in_range<double>(0, 1));
  sub->add_flag("--nesterov", options->nesterov, "sgd: Nesterov momentum (needs --momentum)");
  options->weight_decay_given =
      sub->add_option("--weight-decay", options->weight_decay,
                      "L2 weight decay, added to the gradient (adamw: decoupled; default 0, "
                      "adamw 0.01); not for ftrl")
          ->check(in_range<double>(0, 1));
  options->loss_given =
      sub->add_option("--loss", options->loss,
                      "Loss by name, instead of the model's (e.g. dice_crossentropy for unet)")
          ->check([](const std::string& name) {
            try {
              train::make_loss(name);
            } catch (const Error& e) {
              return std::string(e.what());
            }
            return std::string();
          });
  sub->add_option("--precision", options->precision,
                  "bf16: matrix products and convolutions in bf16 with fp32 accumulation and "
                  "master weights, fp32 elsewhere (CPUs with AVX512-BF16 or AMX; elsewhere a "
                  "warning and fp32); fp32 (default: the spec's training.precision)")
      ->check(CLI::IsMember({"fp32", "float32", "bf16", "bfloat16"}));
  sub->add_option("--seed", options->seed, "Seed of the initial weights and the shuffling")
      ->check(in_range<uint64_t>(0))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(in_range<int64_t>(0));
  options->validation_split_given =
      sub->add_option("--validation-split", options->validation_split,
                      "Fraction of the training samples held out for validation (the last ones)")
          ->check(in_range<double>(0, 0.99));
  sub->add_option("--out", options->out,
                  "Folder to write model.safetensors, model.json, metrics.csv, norms.csv and "
                  "report.html to, with full checkpoints (weights, optimizer, random state) in "
                  "DIR/checkpoints");
  sub->add_option("--save-every", options->save_every,
                  "With --out: checkpoint every N epochs (N or Nepochs) or every N batches "
                  "(Nsteps)")
      ->check(checked_by(
          [](const std::string& text) {
            tasks::RunOptions ignored;
            parse_save_every(text, ignored);
          },
          "N|Nepochs|Nsteps"))
      ->capture_default_str();
  sub->add_option("--keep", options->keep, "With --out: how many of the newest checkpoints stay")
      ->check(in_range<int64_t>(1))
      ->capture_default_str();
  sub->add_option("--save-best", options->save_best,
                  "With --out: keep DIR/best.safetensors, the checkpoint where this value was "
                  "best (e.g. val_loss, val_accuracy)");
  sub->add_flag("--resume", options->resume,
                "Continue the run in --out DIR from its newest checkpoint that loads (the same "
                "command; only --epochs may change); train from the start when there is none");
  sub->add_option("--tensorboard", options->tensorboard,
                  "Folder for TensorBoard event files: DIR/train and DIR/validation (open with "
                  "`tensorboard --logdir DIR`)")
      ->check(log_folder());
  sub->add_flag("--detect-anomaly", options->detect_anomaly,
                "Stop at the first op whose forward or backward makes a NaN or Inf, naming it, "
                "its layer and shapes; warn of exploding or vanishing gradients (slower)");
  sub->add_option("--strategy", options->strategy,
                  "Under mpirun: allreduce (default: gradients averaged across all processes) "
                  "or parameter-server (the last --servers processes hold the weights)")
      ->check(CLI::IsMember({"allreduce", "parameter-server"}));
  sub->add_option("--servers", options->servers,
                  "--strategy parameter-server: how many processes hold the parameters")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--staleness", options->staleness,
                  "--strategy parameter-server: 0 synchronous; K asynchronous, a worker at most "
                  "K steps ahead of the slowest")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("--init-from", options->init_from,
                  "Fine-tuning: start from the weights of this checkpoint (a file, or a run "
                  "folder) instead of a fresh initialization");
  sub->add_flag("--new-head", options->new_head,
                "With --init-from: the last layer starts fresh (a new classifier head; it may "
                "have another number of classes)");
  sub->add_option("--freeze", options->freeze,
                  "Freeze the layers whose names match these patterns, comma-separated, as "
                  "`nabla summary` names them (e.g. 'conv2d*,batch_normalization*')");
  sub->add_option("--classes", options->classes,
                  "Train and test on these classes only, e.g. 0-4 or 0,2,4 (labels unchanged)")
      ->check(checked_by([](const std::string& text) { parse_classes(text); }, "LIST"));
  sub->add_option("--limit", options->limit,
                  "Train on the first N samples only (quick runs and tests)")
      ->check(in_range<int64_t>(0));
  sub->add_option("--lr-schedule", options->lr_schedule,
                  "Learning-rate schedule, as the spec's training.lr_schedule: JSON or the short "
                  "form TYPE,key=value,...: cosine | step,step_size=5,gamma=0.5 | "
                  "multistep,milestones=6/9,gamma=0.1 | exponential,gamma=0.9")
      ->check(checked_by(
          [](const std::string& text) { training_flag_json("lr_schedule", text, "--lr-schedule"); },
          "SCHEDULE"));
  sub->add_option("--augment", options->augment,
                  "An augmentation step, as in the spec's training.augmentation (repeat for "
                  "several, applied in order): JSON or TYPE,key=value,... e.g. "
                  "RandomCrop,padding=2 | RandomFlip,horizontal=true | "
                  "RandomTranslation,height_factor=0.1,width_factor=0.1 | RandomErasing,p=0.5")
      ->check(checked_by(
          [](const std::string& text) { training_flag_json("augmentation", text, "--augment"); },
          "STEP"));
  options->early_stopping_given =
      sub->add_option("--early-stopping", options->early_stopping,
                      "Stop after PATIENCE epochs without improvement of --monitor, keeping the "
                      "best epoch's weights")
          ->check(in_range<int64_t>(0));
  options->reduce_lr_given =
      sub->add_option("--reduce-lr-on-plateau", options->reduce_lr_on_plateau,
                      "Multiply the learning rate by --reduce-lr-factor after PATIENCE epochs "
                      "without improvement of --monitor")
          ->check(in_range<int64_t>(0));
  sub->add_option("--reduce-lr-factor", options->reduce_lr_factor,
                  "With --reduce-lr-on-plateau: the factor, in (0, 1)")
      ->check(in_range<double>(0, 1, true))
      ->capture_default_str();
  sub->add_option("--monitor", options->monitor,
                  "What --early-stopping and --reduce-lr-on-plateau watch (default: val_loss with "
                  "validation data, else loss)");
  sub->add_option("--verbose", options->verbose,
                  "0 silent, 1 progress bar (default), 2 one line per epoch")
      ->check(in_range<int64_t>(0, 2));
  sub->add_flag("--quiet,-q", options->quiet,
                "Print only the results (test figures), warnings and errors");
  sub->add_flag("--json", options->json,
                "For scripts: stdout holds one JSON object per epoch ({\"epoch\": 0, \"loss\": "
                "...}), then {\"figures\": {\"test_accuracy\": ...}}, and nothing else");
  sub->footer(
      "Examples:\n"
      "  nabla train                                   # Keras's classic example, 5 epochs\n"
      "  nabla train --epochs 10 --lr 5e-4 --out runs/mlp\n"
      "  nabla train --model my_model.json --data /path/to/mnist --validation-split 0.1\n"
      "  nabla train --limit 1000 --epochs 1           # a quick check\n"
      "  nabla train --model cnn --out runs/cnn --resume  # after a crash: go on from the newest "
      "checkpoint\n"
      "  nabla train --model cnn --classes 0-4 --out runs/a   # then fine-tune on the others:\n"
      "  nabla train --model cnn --classes 5-9 --init-from runs/a --new-head "
      "--freeze 'conv2d*,batch_normalization*'\n"
      "  nabla train --tensorboard runs/tb             # then: tensorboard --logdir runs/tb\n"
      "  nabla train --model cnn --validation-split 0.1 --early-stopping 3 "
      "--reduce-lr-on-plateau 1\n"
      "  nabla train --model cnn --lr-schedule cosine --augment RandomCrop,padding=2 "
      "--augment RandomFlip,horizontal=true\n"
      "  nabla train --json | jq .loss                  # one JSON line per epoch\n"
      "  nabla train --model cnn --data photos/ --image-size 64x64 --color rgb --out runs/photos");
  return {sub, [options] { run_train(*options); }};
}

}  // namespace nabla::cli
