// nabla::dist's collectives on tensors and values, and how a process knows it was launched by
// MPI; the same in builds with and without MPI (communicator.hpp carries the difference).
#include <cstdlib>

#include "core/tensor_impl.hpp"
#include "dist/communicator.hpp"
#include "nabla/dist.hpp"

namespace nabla::dist {

bool launched_by_mpi() {
  // Open MPI's mpirun, MPICH/Hydra and Intel MPI (PMI), PMIx launchers (srun --mpi=pmix).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

void broadcast(Tensor& tensor, int root) {
  NABLA_CHECK(tensor.defined() && tensor.is_contiguous(),
              "dist::broadcast: expected a defined, contiguous tensor");
  NABLA_CHECK(root >= 0 && root < size(), "dist::broadcast: root ", root, " is not a rank of ",
              size());
  internal::broadcast(tensor.raw_data(),
                      tensor.numel() * static_cast<int64_t>(dtype_size(tensor.dtype())), root);
}

void broadcast(nn::Module& module, int root) {
  for (auto& [name, param] : module.named_parameters()) {
    Tensor data = param.detach();
    broadcast(data, root);
  }
  for (auto& [name, buffer] : module.named_buffers()) {
    Tensor data = buffer.detach();
    broadcast(data, root);
  }
}

void all_reduce_sum(Tensor& tensor) {
  NABLA_CHECK(tensor.defined() && tensor.is_contiguous(),
              "dist::all_reduce_sum: expected a defined, contiguous tensor");
  switch (tensor.dtype()) {
    case DType::f32:
      internal::all_reduce_sum(tensor.data<float>(), tensor.numel());
      return;
    case DType::f64:
      internal::all_reduce_sum(tensor.data<double>(), tensor.numel());
      return;
    case DType::i64:
      internal::all_reduce_sum(tensor.data<int64_t>(), tensor.numel());
      return;
    default:
      NABLA_CHECK(false, "dist::all_reduce_sum: sums f32, f64 or i64 tensors, got ",
                  tensor.dtype());
  }
}

void all_reduce_sum(std::vector<double>& values) {
  internal::all_reduce_sum(values.data(), static_cast<int64_t>(values.size()));
}

}  // namespace nabla::dist
