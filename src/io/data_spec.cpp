// The "data" section of a model spec: the text task `nabla train` trains the model on instead of
// Fashion-MNIST, e.g. {"type": "corpus", "corpus": "kjv", "level": "char", "sequence_length": 128}.
#include "io/spec_sections.hpp"

namespace nabla::io::internal {

data::TextTaskOptions text_task_from_json(const SpecReader& reader, const Json& section) {
  const std::string path = "data";
  if (!section.is_object()) reader.fail(path, "expected an object, got " + json_excerpt(section));
  reader.check_keys(
      section, path,
      {"type", "categories", "corpus", "level", "max_vocab", "lowercase", "sequence_length",
       "test_fraction", "task", "min_length", "max_length", "train_samples", "test_samples", "seed",
       "skip_bad_records", "input_kind", "input_feature", "label_feature", "stream"},
      "\"data\"");
  const auto at = [&](const char* key) { return SpecReader::join_path(path, key); };
  const auto get = [&](const char* key) -> const Json* {
    const auto it = section.find(key);
    return it == section.end() ? nullptr : &*it;
  };
  data::TextTaskOptions o;
  const Json* type = get("type");
  if (type == nullptr) {
    reader.fail(path, "missing \"type\": fortunes, corpus, digits, image_folder or tfrecord");
  }
  o.type = reader.string(*type, at("type"));
  if (o.type != "fortunes" && o.type != "corpus" && o.type != "digits" &&
      o.type != "image_folder" && o.type != "tfrecord") {
    reader.fail(at("type"), "expected fortunes, corpus, digits, image_folder or tfrecord, got " +
                                json_excerpt(*type));
  }
  if (const Json* v = get("categories")) {
    if (!v->is_array() || v->empty()) {
      reader.fail(at("categories"), "expected a list of fortune files, got " + json_excerpt(*v));
    }
    for (const Json& c : *v) o.categories.push_back(reader.string(c, at("categories")));
  }
  if (o.type == "fortunes" && o.categories.empty()) {
    reader.fail(path, "a fortunes task needs \"categories\" (files such as \"computers\")");
  }
  if (const Json* v = get("corpus")) o.corpus = reader.string(*v, at("corpus"));
  if (const Json* v = get("level")) {
    o.level = reader.string(*v, at("level"));
    if (o.level != "word" && o.level != "char") {
      reader.fail(at("level"), "expected \"word\" or \"char\", got " + json_excerpt(*v));
    }
  }
  if (const Json* v = get("max_vocab")) o.max_vocab = reader.positive_int(*v, at("max_vocab"));
  if (const Json* v = get("lowercase")) o.lowercase = reader.boolean(*v, at("lowercase"));
  if (const Json* v = get("sequence_length")) {
    o.sequence_length = reader.positive_int(*v, at("sequence_length"));
  }
  if (const Json* v = get("test_fraction")) {
    o.test_fraction = reader.number(*v, at("test_fraction"), 1e-9, 1);
  }
  if (const Json* v = get("task")) {
    o.task = reader.string(*v, at("task"));
    if (o.task != "reverse" && o.task != "sort") {
      reader.fail(at("task"), "expected \"reverse\" or \"sort\", got " + json_excerpt(*v));
    }
  }
  if (const Json* v = get("min_length")) o.min_length = reader.positive_int(*v, at("min_length"));
  if (const Json* v = get("max_length")) o.max_length = reader.positive_int(*v, at("max_length"));
  if (o.max_length < o.min_length) {
    reader.fail(at("max_length"),
                detail::str("must be >= min_length (", o.min_length, "), got ", o.max_length));
  }
  if (const Json* v = get("train_samples")) {
    o.train_samples = reader.positive_int(*v, at("train_samples"));
  }
  if (const Json* v = get("test_samples")) {
    o.test_samples = reader.positive_int(*v, at("test_samples"));
  }
  if (const Json* v = get("seed")) {
    if (!v->is_number_integer() || v->get<int64_t>() < 0) {
      reader.fail(at("seed"), "expected an integer >= 0, got " + json_excerpt(*v));
    }
    o.seed = v->get<uint64_t>();
  }
  if (const Json* v = get("skip_bad_records")) {
    o.skip_bad_records = reader.boolean(*v, at("skip_bad_records"));
  }
  if (const Json* v = get("stream")) o.stream = reader.boolean(*v, at("stream"));
  if (const Json* v = get("input_kind")) {
    o.input_kind = reader.string(*v, at("input_kind"));
    if (o.input_kind != "image" && o.input_kind != "floats") {
      reader.fail(at("input_kind"), "expected \"image\" or \"floats\", got " + json_excerpt(*v));
    }
  }
  if (const Json* v = get("input_feature"))
    o.input_feature = reader.string(*v, at("input_feature"));
  if (const Json* v = get("label_feature"))
    o.label_feature = reader.string(*v, at("label_feature"));
  return o;
}

}  // namespace nabla::io::internal
