// The umbrella header: everything public in nabla.
#pragma once

#include "nabla/error.hpp"
#include "nabla/ops.hpp"
#include "nabla/tensor.hpp"
