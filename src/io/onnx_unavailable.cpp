// io::export_onnx and io::import_onnx in a nabla built without Debian's libonnx-dev (NABLA_ONNX
// off): the functions exist, so that programs and the CLI link either way, and say what the build
// lacks.
#include "nabla/onnx.hpp"

namespace nabla::io {

bool onnx_export_available() { return false; }

void export_onnx(const train::Model&, const std::string& path, const OnnxExportOptions&) {
  detail::throw_error(detail::str("export_onnx: ", path,
                                  ": this nabla was built without ONNX support; install "
                                  "libonnx-dev (scripts/install-deps.sh) and rebuild"));
}

bool onnx_import_available() { return false; }

nn::ModulePtr import_onnx(const std::string& path) {
  detail::throw_error(detail::str("import_onnx: ", path,
                                  ": this nabla was built without ONNX support; install "
                                  "libonnx-dev (scripts/install-deps.sh) and rebuild"));
}

}  // namespace nabla::io
