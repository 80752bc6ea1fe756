// The umbrella header: everything public in nabla.
#pragma once

#include "nabla/data.hpp"
#include "nabla/dist.hpp"
#include "nabla/energy.hpp"
#include "nabla/error.hpp"
#include "nabla/io.hpp"
#include "nabla/layers.hpp"
#include "nabla/nn.hpp"
#include "nabla/ops.hpp"
#include "nabla/optim.hpp"
#include "nabla/report.hpp"
#include "nabla/retrieval.hpp"
#include "nabla/tasks.hpp"
#include "nabla/tensor.hpp"
#include "nabla/tensorboard.hpp"
#include "nabla/train.hpp"
#include "nabla/word2vec.hpp"
