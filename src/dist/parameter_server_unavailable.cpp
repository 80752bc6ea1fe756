// dist::ParameterServer in a build without MPI: a job of one process has no server to talk to,
// so making one is the error; the other members are never reached.
#include "nabla/dist.hpp"

namespace nabla::dist {

struct ParameterServer::State {
  ParameterServerStats stats;
};

ParameterServer::ParameterServer(ParameterServerOptions /*options*/) {
  NABLA_CHECK(false, "ParameterServer: this nabla was built without MPI; install Open MPI ",
              "(apt-get install libopenmpi-dev openmpi-bin), build it again and start the job ",
              "with mpirun -np N");
}
ParameterServer::~ParameterServer() = default;
int ParameterServer::rank() const { return 0; }
int ParameterServer::size() const { return 1; }
bool ParameterServer::trains() const { return true; }
void ParameterServer::begin_training(nn::Module&, optim::Optimizer&) {}
void ParameterServer::begin_step(double) {}
void ParameterServer::update(optim::Optimizer& optimizer) { optimizer.step(); }
void ParameterServer::synchronize_buffers(nn::Module&) {}
void ParameterServer::end_training() {}
void ParameterServer::sum(std::vector<double>&) {}
void ParameterServer::serve(nn::Module&, optim::Optimizer&) {}
const ParameterServerStats& ParameterServer::stats() const { return state_->stats; }

}  // namespace nabla::dist
